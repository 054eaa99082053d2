// The pages' words in Chinese and English; ?lang=en|zh or the toggle chooses, the browser's
// language otherwise. Elements carry data-i18n="key" (text) or data-i18n-placeholder.
const WORDS = {
  zh: {
    lang: "English", home_title: "电子身份证平台", wallet: "公民钱包", desk: "核验台", console: "发证机关控制台",
    wallet_desc: "领取、出示、挂失你的电子身份证", desk_desc: "酒店、机场、车站扫码核验", console_desc: "登记、证件状态、信任列表、统计",
    provider: "钱包提供方", create_wallet: "创建钱包", pin: "PIN（6位数字）", pin_again: "再次输入 PIN", create: "创建",
    enrol: "领取电子身份证", remote: "远程（人脸）", counter: "柜台码", id_number: "公民身份号码", full_name: "姓名",
    card_front: "身份证正面照片", card_back: "身份证背面照片", selfie: "自拍（人脸核验，请正对镜头）", selfie_turned_left: "再自拍一张：头向左转", selfie_turned_right: "再自拍一张：头向右转", offer: "柜台给的领取链接",
    tx_code: "交易码", enrol_go: "提交并领取", card: "居民身份证", sex: "性别", birth_date: "出生", address: "住址",
    issuing_authority: "签发机关", expiry_date: "有效期至", present: "出示", show_qr: "出示二维码",
    purpose: "用途", airport_security: "机场安检", rail_ticketing: "铁路购票", age_check: "年龄核验",
    hotel_check_in: "酒店入住", bank_account_opening: "银行开户", welfare: "社会福利",
    refreshes_in: "秒后刷新", shows: "对方将看到", in_person: "当面出示（核验台扫码）", online: "线上出示（粘贴链接）",
    waiting_desk: "请让核验台扫描此二维码…", asks: "请求查看", for_purpose: "用途", share: "同意并出示", decline: "拒绝",
    shared_with: "已出示给", declined: "已拒绝", declined_untold: "已拒绝（未能通知对方，对方未收到任何信息）", refused_request: "已拒绝该请求：", history: "出示记录", no_history: "暂无记录",
    lost: "挂失丢失的手机", lost_note: "在这部手机上用人脸挂失你其他手机上的电子身份证。", report: "挂失",
    reported: "已挂失，冻结的钱包数：", held: "代为持有", held_note: "为子女或被监护人代为持有的电子身份证（须先在柜台登记）：与您本人的证件分开保存，只在用途允许代持时由您选择出示。", held_none: "暂无", held_go: "领取代持证件", whose: "出示谁的证件", whose_mine: "我本人的", parent: "父母代持", guardian: "监护人代持", refresh: "更新证件", refreshed: "已更新", backup: "出示记录备份", backup_unavailable: "需先刷脸在线办理或换机后才能备份（柜台办理的钱包暂不支持）", backup_off: "出示记录未备份：备份后换新手机也能找回（服务商只保存加密数据，无法查看）", backup_on: "出示记录已加密备份在服务商处", backup_restorable: "服务商处有您的出示记录备份：输入恢复码即可找回", backup_go: "备份出示记录", recovery_code: "恢复码", restore_go: "找回出示记录", write_down: "请抄下恢复码并妥善保存，它只显示这一次：", restored: "已找回的记录条数：", backup_over: "恢复码丢了？重新备份（服务商处的旧备份将被删除）", confirm_over: "重新备份会删除服务商处的旧备份，其中的出示记录将无法找回。继续吗？", new_phone: "换新手机",
    new_phone_note: "在新手机上领取后，挂失旧手机即可。", paste_link: "粘贴 openid4vp:// 链接", read_request: "读取请求",
    enter_pin: "请输入 PIN", cancel: "取消", ok: "确定", desk_title: "核验台", choose_desk: "核验点",
    camera: "摄像头", upload: "上传图片", start_camera: "开启摄像头", stop_camera: "关闭摄像头", scan_image: "选择二维码图片",
    accepted: "通过", refused: "拒绝", reasons: "原因", attributes: "信息", no_portrait: "离线码不含照片（仅含照片摘要）",
    face_template_only: "离线码不含照片：仅含照片摘要和用于人脸比对的人脸特征",
    face_needed: "此用途须人脸比对：请先开启人脸摄像头或上传在场人员照片，再扫码",
    face_title: "人脸比对", face_required: "此用途须人脸比对：核验时摄像头拍下的人脸或上传的照片与证件人脸比对，不符即拒绝。",
    face_optional: "核验时摄像头拍下的人脸或上传的照片与证件人脸比对，结果供工作人员判断。",
    start_face_camera: "开启人脸摄像头", stop_face_camera: "关闭人脸摄像头", face_image: "或上传在场人员照片",
    face_matches: "人脸一致", face_differs: "人脸不一致",
    face_turn: "活体检测：请对方转头", ask_turn_left: "请对方正对镜头拍照，再把头向左转（其本人的左侧）拍第二张。", ask_turn_right: "请对方正对镜头拍照，再把头向右转（其本人的右侧）拍第二张。",
    take_turned: "拍转头照片", face_turned_image: "或上传转头照片", turn_needed: "已开启活体检测：请先拍或上传转头照片，再扫码",
    turned_passed: "转头检测通过", turned_failed: "转头检测未通过", camera_first: "请先开启人脸摄像头",
    scanning: "正在扫描…", no_qr: "图片中未找到二维码", ask_online: "发起线上核验", ask_browser: "请浏览器中的钱包出示", browser_declined: "用户未出示（已拒绝或已取消）", online_link: "请把此链接发给用户：",
    waiting_answer: "等待用户回应…", console_title: "发证机关控制台", authority: "发证机关", admin_token: "管理令牌",
    login: "登录", logout: "退出", counts: "统计", valid: "有效", suspended: "已冻结", invalid: "已吊销",
    issuance_chart: "近24小时签发与核验（每小时）", issued: "签发", verified: "核验", enrolments: "登记与核验决定",
    credentials: "证件及状态", trust_list: "信任列表", version: "版本", widen: "扩大认可范围", issuer: "发证机关",
    region: "地区（nation=全国，或省/市代码）", operator_token: "信任列表运营令牌", apply: "签发新版本",
    delegation: "柜台：登记代持", delegation_note: "父母为未成年子女、监护人为被监护人登记代持：双方均须本人到场核验身份证件。代持人须已在自己的手机上领取电子身份证；生成的领取链接和交易码只有其钱包能用。", ward_id: "被代持人公民身份号码", ward_name: "被代持人姓名", holder_id: "代持人公民身份号码", holder_name: "代持人姓名", relationship: "关系", rel_parent: "父母", rel_guardian: "监护人", delegation_go: "核验并登记", delegation_made: "已登记：请代持人在钱包“代为持有”中输入以下领取链接和交易码。",     paper: "柜台：打印纸质码", paper_note: "为没有智能手机的居民打印一张带签名的纸质二维码：仅用于信任列表允许纸质码的用途，最长 72 小时有效，核验时须人脸比对。可在上方列表中随时吊销。", paper_hours: "有效小时数（1–72）", officer: "经办人", paper_go: "核验并打印", paper_refused: "不接受纸质码", valid_until: "有效期至", print: "打印", printed_code: "纸质码",
    hotline: "热线：冻结居民的电子身份证", hotline_note: "居民来电报告手机丢失或账户被盗：按公民身份号码冻结其全部电子身份证（各核验点即时拒绝）。找回后，在上方列表中只恢复居民仍持有的那部手机上的凭证。", hotline_id: "公民身份号码", hotline_bad_id: "公民身份号码为 18 位：17 位数字加一位数字或 X", freeze: "冻结", frozen: "已冻结", credentials_n: "份凭证", instances_n: "个实例",
    at: "时间", action: "操作", outcome: "结果", detail: "说明", wallet_col: "钱包", configuration: "类型",
    state: "状态", suspend: "冻结", reinstate: "恢复", revoke: "吊销", scope: "认可范围", checks_off: "本机关闭的检查",
    replace_old: "换到这部手机：领取后永久吊销旧手机上的电子身份证（找回旧手机也不能再用）", moved: "已换到这部手机；已吊销的旧钱包数：", versions: "已签发的版本", qr_paused: "二维码已停止刷新，点击“出示二维码”再次出示", confirm_revoke: "吊销不可撤销，确定吊销此证件？", name: "姓名", family_name: "姓", given_name: "名", document_number: "公民身份号码", pseudonym_item: "本机构专用的化名（每次相同；其他机构收到的化名不同，无法据此把您关联起来）", pseudonym: "化名", ethnicity: "民族", issue_date: "签发日期",
    resident_region: "户籍地区", age_over_18: "已满18岁", age_over_60: "已满60岁", age_in_years: "年龄", age_birth_year: "出生年份",
    portrait_sha256: "照片摘要", wallet_provider: "钱包提供方", male: "男", female: "女", long_term: "长期",
  },
  en: {
    lang: "中文", home_title: "eid platform", wallet: "Citizen wallet", desk: "Verifier desk", console: "Authority console",
    wallet_desc: "Get, show and report your e-ID", desk_desc: "Hotels, airports, stations scan and check", console_desc: "Enrolments, credential status, trust list, counts",
    provider: "Wallet provider", create_wallet: "Create a wallet", pin: "PIN (6 digits)", pin_again: "PIN again", create: "Create",
    enrol: "Get your e-ID", remote: "Remote (face)", counter: "Counter code", id_number: "Identity number", full_name: "Full name",
    card_front: "Photo of the card's front", card_back: "Photo of the card's back", selfie: "Selfie (face check, looking at the camera)", selfie_turned_left: "Another selfie: your head turned to your left", selfie_turned_right: "Another selfie: your head turned to your right", offer: "Offer link from the counter",
    tx_code: "Transaction code", enrol_go: "Send and receive", card: "Resident identity card", sex: "Sex", birth_date: "Born", address: "Address",
    issuing_authority: "Issued by", expiry_date: "Valid until", present: "Present", show_qr: "Show QR code",
    purpose: "Purpose", airport_security: "Airport security", rail_ticketing: "Rail ticketing", age_check: "Age check",
    hotel_check_in: "Hotel check-in", bank_account_opening: "Bank account opening", welfare: "Welfare",
    refreshes_in: "s until it refreshes", shows: "They will see", in_person: "In person (the desk scans)", online: "Online (paste a link)",
    waiting_desk: "Let the desk scan this code…", asks: "asks to see", for_purpose: "for", share: "Share", decline: "Decline",
    shared_with: "Shared with", declined: "Declined", declined_untold: "Declined (the relying party could not be told; it received nothing)", refused_request: "Request refused: ", history: "History", no_history: "Nothing shown yet",
    lost: "Report a lost phone", lost_note: "From this phone, with your face, freeze your e-ID on your other phones.", report: "Report lost",
    reported: "Reported; wallets frozen: ", held: "Held for others", held_note: "The e-ID of a child or a ward you hold for them (registered at a counter first): kept apart from your own, shown only where the purpose allows it and you choose it.", held_none: "None", held_go: "Receive a held credential", whose: "Whose credential", whose_mine: "My own", parent: "held by a parent", guardian: "held by a guardian", refresh: "Refresh credentials", refreshed: "Refreshed", backup: "History backup", backup_unavailable: "A backup needs an enrolment or a move with your face (not yet for a wallet enrolled at a counter)", backup_off: "Your history is not backed up: back it up and a new phone gets it back (the provider keeps it encrypted and cannot read it)", backup_on: "Your history is backed up, encrypted, at your provider", backup_restorable: "Your provider keeps a backup of your history: your recovery code restores it", backup_go: "Back up my history", recovery_code: "Recovery code", restore_go: "Restore my history", write_down: "Write this recovery code down and keep it safe; it is shown only this once: ", restored: "Entries restored: ", backup_over: "Lost your recovery code? Start a new backup (the provider's old one is deleted)", confirm_over: "A new backup deletes the provider's old one: the history in it cannot be restored any more. Go on?", new_phone: "Move to a new phone",
    new_phone_note: "Enrol on the new phone, then report the old one lost.", paste_link: "Paste an openid4vp:// link", read_request: "Read the request",
    enter_pin: "Enter your PIN", cancel: "Cancel", ok: "OK", desk_title: "Verifier desk", choose_desk: "Desk",
    camera: "Camera", upload: "Upload image", start_camera: "Start camera", stop_camera: "Stop camera", scan_image: "Choose a QR image",
    accepted: "ACCEPTED", refused: "REFUSED", reasons: "Reasons", attributes: "Attributes", no_portrait: "Offline codes carry no portrait (only its digest)",
    face_template_only: "Offline codes carry no picture: only its digest, and a face template for the face check",
    face_needed: "This purpose requires a face match: start the face camera or upload a photo of the person, then scan",
    face_title: "The person at the desk", face_required: "This purpose requires a face match: the face camera's picture at the check, or an uploaded photo, is compared with the credential's face, and a mismatch refuses.",
    face_optional: "The face camera's picture at the check, or an uploaded photo, is compared with the credential's face, for the clerk to judge.",
    start_face_camera: "Start face camera", stop_face_camera: "Stop face camera", face_image: "Or upload a photo of the person",
    face_matches: "Face matches", face_differs: "Face does NOT match",
    face_turn: "Liveness: ask them to turn their head", ask_turn_left: "Photograph the person facing the camera, then ask them to turn their head to THEIR LEFT and take the second photo.", ask_turn_right: "Photograph the person facing the camera, then ask them to turn their head to THEIR RIGHT and take the second photo.",
    take_turned: "Take the turned photo", face_turned_image: "Or upload the turned photo", turn_needed: "Liveness is on: take or upload the turned photo first, then scan",
    turned_passed: "head turn passed", turned_failed: "head turn FAILED", camera_first: "Start the face camera first",
    scanning: "Scanning…", no_qr: "No QR code found in the image", ask_online: "Ask online", ask_browser: "Ask this browser's wallet", browser_declined: "Nothing was shown (the holder declined or cancelled)", online_link: "Send this link to the customer:",
    waiting_answer: "Waiting for the answer…", console_title: "Authority console", authority: "Authority", admin_token: "Admin token",
    login: "Log in", logout: "Log out", counts: "Counts", valid: "Valid", suspended: "Suspended", invalid: "Revoked",
    issuance_chart: "Issued and verified per hour, last 24 hours", issued: "issued", verified: "verified", enrolments: "Enrolments and proofing decisions",
    credentials: "Credentials and their status", trust_list: "Trust list", version: "Version", widen: "Widen a scope", issuer: "Issuer",
    region: "Region (nation, or a province/prefecture code)", operator_token: "Trust-list operator token", apply: "Sign the next version",
    delegation: "Counter: register a delegation", delegation_note: "A parent for a minor child, or a guardian for a ward: both present their cards. The holder must already hold her own e-ID on her phone; the offer and code made here work in her wallet alone.", ward_id: "Resident's identity number", ward_name: "Resident's name", holder_id: "Holder's identity number", holder_name: "Holder's name", relationship: "Relationship", rel_parent: "Parent", rel_guardian: "Guardian", delegation_go: "Check and register", delegation_made: "Registered: the holder enters this offer and code under “Held for others” in her wallet.",     paper: "Counter: print a code on paper", paper_note: "For a resident without a smartphone, print a signed QR code on paper: only for purposes the trust list allows on paper, valid 72 hours at most, and the desk must match the face. Revoke it in the list above at any time.", paper_hours: "Valid for (hours, 1–72)", officer: "Officer", paper_go: "Check and print", paper_refused: "no paper", valid_until: "valid until", print: "Print", printed_code: "printed code",
    hotline: "Hotline: freeze a resident's e-ID", hotline_note: "A resident calls to report a lost phone or a hacked account: freeze every e-ID credential of that identity number (every desk refuses it at once). Once recovered, reinstate in the list above only the credentials of the phone the resident still holds.", hotline_id: "Identity number", hotline_bad_id: "An identity number has 18 characters: 17 digits, then a digit or X", freeze: "Freeze", frozen: "Frozen", credentials_n: "credential(s)", instances_n: "instance(s)",
    at: "At", action: "Action", outcome: "Outcome", detail: "Detail", wallet_col: "Wallet", configuration: "Configuration",
    state: "State", suspend: "Suspend", reinstate: "Reinstate", revoke: "Revoke", scope: "Accepted in", checks_off: "Checks off on this machine",
    replace_old: "Moving to this phone: revoke my e-ID on my old phone for good after enrolling (even if it is found)", moved: "Moved to this phone; old wallets revoked: ", versions: "Versions signed", qr_paused: "The QR code stopped refreshing; tap “Show QR code” to show it again", confirm_revoke: "Revocation cannot be undone. Revoke this credential?", name: "Name", family_name: "Family name", given_name: "Given name", document_number: "Identity number", pseudonym_item: "A pseudonym for this relying party only (the same each time; others get other ones, which cannot be linked to it)", pseudonym: "Pseudonym", ethnicity: "Ethnic group", issue_date: "Issued on",
    resident_region: "Registered region", age_over_18: "Aged 18 or over", age_over_60: "Aged 60 or over", age_in_years: "Age", age_birth_year: "Birth year",
    portrait_sha256: "Portrait digest", wallet_provider: "Wallet provider", male: "male", female: "female", long_term: "long-term",
  },
};
const params = new URLSearchParams(location.search);
let LANG = params.get("lang") || localStorage.getItem("eid.lang") || (navigator.language.startsWith("zh") ? "zh" : "en");
if (!WORDS[LANG]) LANG = "en";
function t(key) { return WORDS[LANG][key] ?? WORDS.en[key] ?? key; }
function translate(root = document) {
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  root.querySelectorAll("[data-i18n]").forEach(e => { e.textContent = t(e.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach(e => { e.placeholder = t(e.dataset.i18nPlaceholder); });
}
function toggleLanguage() {
  LANG = LANG === "zh" ? "en" : "zh";
  localStorage.setItem("eid.lang", LANG);
  translate();
  document.dispatchEvent(new Event("languagechange"));
}
// JSON over fetch; a refusal throws an Error with the server's message.
async function api(method, url, body, token) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = "Bearer " + token;
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let json; try { json = JSON.parse(text); } catch { json = { message: text }; }
  if (!response.ok) {
    const error = new Error(json.message || json.error_description || json.error || text || response.statusText);
    error.status = response.status;
    error.code = json.error;
    throw error;
  }
  return json;
}
function fileToBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",")[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
document.addEventListener("DOMContentLoaded", () => translate());
