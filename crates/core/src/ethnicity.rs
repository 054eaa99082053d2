//! The 56 officially recognised ethnic groups (民族), with their GB/T 3304-1991 numeric codes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// (name as printed on the card, English name); index + 1 is the GB/T 3304 code.
const GROUPS: [(&str, &str); 56] = [
    ("汉", "Han"),
    ("蒙古", "Mongol"),
    ("回", "Hui"),
    ("藏", "Tibetan"),
    ("维吾尔", "Uyghur"),
    ("苗", "Miao"),
    ("彝", "Yi"),
    ("壮", "Zhuang"),
    ("布依", "Buyei"),
    ("朝鲜", "Korean"),
    ("满", "Manchu"),
    ("侗", "Dong"),
    ("瑶", "Yao"),
    ("白", "Bai"),
    ("土家", "Tujia"),
    ("哈尼", "Hani"),
    ("哈萨克", "Kazakh"),
    ("傣", "Dai"),
    ("黎", "Li"),
    ("傈僳", "Lisu"),
    ("佤", "Va"),
    ("畲", "She"),
    ("高山", "Gaoshan"),
    ("拉祜", "Lahu"),
    ("水", "Sui"),
    ("东乡", "Dongxiang"),
    ("纳西", "Naxi"),
    ("景颇", "Jingpo"),
    ("柯尔克孜", "Kyrgyz"),
    ("土", "Tu"),
    ("达斡尔", "Daur"),
    ("仫佬", "Mulao"),
    ("羌", "Qiang"),
    ("布朗", "Blang"),
    ("撒拉", "Salar"),
    ("毛南", "Maonan"),
    ("仡佬", "Gelao"),
    ("锡伯", "Xibe"),
    ("阿昌", "Achang"),
    ("普米", "Pumi"),
    ("塔吉克", "Tajik"),
    ("怒", "Nu"),
    ("乌孜别克", "Uzbek"),
    ("俄罗斯", "Russian"),
    ("鄂温克", "Evenki"),
    ("德昂", "De'ang"),
    ("保安", "Bonan"),
    ("裕固", "Yugur"),
    ("京", "Gin"),
    ("塔塔尔", "Tatar"),
    ("独龙", "Derung"),
    ("鄂伦春", "Oroqen"),
    ("赫哲", "Hezhen"),
    ("门巴", "Monba"),
    ("珞巴", "Lhoba"),
    ("基诺", "Jino"),
];

/// One of the 56 ethnic groups, by its GB/T 3304 code (1 = 汉 … 56 = 基诺).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ethnicity(u8);

/// The name or code is not one of the 56 groups.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not one of the 56 ethnic groups: use the name on the card (e.g. 汉, 壮) or its code 1-56")]
pub struct UnknownEthnicity;

impl Ethnicity {
    /// 汉 (Han), code 1.
    pub const HAN: Self = Self(1);

    /// All 56, in code order.
    pub fn all() -> impl Iterator<Item = Self> {
        (1..=56).map(Self)
    }

    /// By GB/T 3304 code, 1–56.
    pub fn from_code(code: u8) -> Result<Self, UnknownEthnicity> {
        if (1..=56).contains(&code) {
            Ok(Self(code))
        } else {
            Err(UnknownEthnicity)
        }
    }

    /// By the name printed on the card (`壮`), with or without the trailing 族, or by the
    /// English name (`Zhuang`).
    pub fn from_name(name: &str) -> Result<Self, UnknownEthnicity> {
        let short = name.strip_suffix('族').unwrap_or(name);
        GROUPS
            .iter()
            .position(|(zh, en)| *zh == short || en.eq_ignore_ascii_case(name))
            .and_then(|i| u8::try_from(i + 1).ok())
            .map(Self)
            .ok_or(UnknownEthnicity)
    }

    /// The GB/T 3304 code.
    pub fn code(self) -> u8 {
        self.0
    }

    fn entry(self) -> (&'static str, &'static str) {
        GROUPS[usize::from(self.0.clamp(1, 56) - 1)]
    }

    /// The name printed on the card (`壮`).
    pub fn chinese(self) -> &'static str {
        self.entry().0
    }

    /// The English name (`Zhuang`).
    pub fn english(self) -> &'static str {
        self.entry().1
    }
}

impl fmt::Display for Ethnicity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.chinese())
    }
}

impl fmt::Debug for Ethnicity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ethnicity({})", self.english())
    }
}

impl Serialize for Ethnicity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.chinese())
    }
}

impl<'de> Deserialize<'de> for Ethnicity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_name(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_six_distinct_groups() {
        let names: std::collections::HashSet<_> = Ethnicity::all().map(|e| e.chinese()).collect();
        assert_eq!(names.len(), 56);
    }

    #[test]
    fn by_name_and_code() {
        let zhuang = Ethnicity::from_name("壮族").unwrap();
        assert_eq!(zhuang.code(), 8);
        assert_eq!(Ethnicity::from_name("壮").unwrap(), zhuang);
        assert_eq!(Ethnicity::from_name("zhuang").unwrap(), zhuang);
        assert_eq!(Ethnicity::from_code(56).unwrap().chinese(), "基诺");
        assert_eq!(Ethnicity::from_code(0), Err(UnknownEthnicity));
        assert_eq!(Ethnicity::from_code(57), Err(UnknownEthnicity));
        assert_eq!(Ethnicity::from_name("火星"), Err(UnknownEthnicity));
    }
}
