//! Reading a QR code from a picture, as a desk's camera or an uploaded image gives it: grey
//! levels (0 black … 255 white), row by row. The desk page sends them; the codes it finds
//! are offline codes (binary) or a phone's engagement (`mdoc:` text).

/// The largest picture read: 4096 × 4096 (a camera frame or a phone's screenshot is
/// smaller).
pub const MAX_SIDE: usize = 4096;

/// Why no code came out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// Width or height zero or beyond [`MAX_SIDE`], or the bytes not width × height.
    #[error("the picture must be width × height grey levels, each side 1 to 4096 pixels ({0})")]
    Shape(String),
    /// No QR code could be read in it.
    #[error("no readable QR code in the picture")]
    NotFound,
}

/// The content of the first readable QR code in the picture.
pub fn read_qr(width: usize, height: usize, grey: &[u8]) -> Result<Vec<u8>, QrError> {
    if !(1..=MAX_SIDE).contains(&width) || !(1..=MAX_SIDE).contains(&height) {
        return Err(QrError::Shape(format!("{width} × {height}")));
    }
    if grey.len() != width * height {
        return Err(QrError::Shape(format!(
            "{} bytes for {width} × {height}",
            grey.len()
        )));
    }
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| grey[y * width + x]);
    for grid in prepared.detect_grids() {
        let mut content = Vec::new();
        if grid.decode_to(&mut content).is_ok() {
            return Ok(content);
        }
    }
    Err(QrError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A QR code drawn as grey levels, `scale` pixels a module, with a quiet zone.
    fn picture(content: &[u8], scale: usize) -> (usize, Vec<u8>) {
        let code =
            qrcode::QrCode::with_error_correction_level(content, qrcode::EcLevel::M).unwrap();
        let modules = code.width();
        let side = (modules + 8) * scale;
        let mut grey = vec![255u8; side * side];
        for y in 0..modules {
            for x in 0..modules {
                if code[(x, y)] == qrcode::Color::Dark {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            grey[((y + 4) * scale + dy) * side + (x + 4) * scale + dx] = 0;
                        }
                    }
                }
            }
        }
        (side, grey)
    }

    #[test]
    fn reads_binary_content_back() {
        let content: Vec<u8> = (0..=255u8).cycle().take(395).collect();
        let (side, grey) = picture(&content, 4);
        assert_eq!(read_qr(side, side, &grey).unwrap(), content);
    }

    #[test]
    fn refuses_wrong_shapes_and_blank_pictures() {
        assert!(matches!(read_qr(0, 10, &[]), Err(QrError::Shape(_))));
        assert!(matches!(
            read_qr(5000, 1, &[0; 5000]),
            Err(QrError::Shape(_))
        ));
        assert!(matches!(read_qr(10, 10, &[0; 99]), Err(QrError::Shape(_))));
        assert_eq!(read_qr(64, 64, &[255; 64 * 64]), Err(QrError::NotFound));
    }
}
