"""The mobile SDK end to end, through its generated Python bindings, as a super-app's phone
app uses it, against a running platform (`eid up`, started here):

1. the officer at the counter makes an offer; the phone's wallet redeems it, every instance
   bound to a fresh key in the phone's key store (this file's software stand-in for the
   Keystore / Secure Enclave, signing in DER as Android does);
2. its offline code is accepted at the airport desk, her face in front of the camera; the
   bank asks online (OpenID4VP): the phone reads the request against the national trust list
   the app hands it, shows what is asked, and shares — accepted, her face matched with the
   photograph the bank took; a second request declined is reported declined to the bank;
   the counter registers her as a ward's guardian: the phone holds the ward's credential
   apart, refuses it to the bank (whose purpose does not allow delegation) and shows it to
   the hotel, which reports it held by a guardian;
3. from her tablet (a second wallet instance) she reports the phone lost, proofed by her
   live capture;
4. the phone's next offline code is refused at the airport desk: status_suspended.

Also refused, each with its kind of error: an offer from an authority the wallet does not
work with (before anything is sent), a wrong transaction code (the authority's
`invalid_grant`), an unknown purpose, an offline code from a wallet with no credential, a key
store that cancels (nothing signed, nothing recorded; an online request it was asked to share
can then be declined), an online request before any trust list is held, a trust list checked
against another root, an older trust list after a restart, a request answered twice.

Usage: PYTHONPATH=<bindings> python3 story.py path/to/eid
Needs EID_PROOFING_DIR (the face model and fixtures, scripts/test-env) and `cryptography`.
"""

import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import eid_sdk

EID = sys.argv[1]
PROOFING = os.environ.get("EID_PROOFING_DIR", "/var/tmp/eid-proofing")
FIXTURES = os.path.join(PROOFING, "fixtures")
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def http(method, url, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b"{}")


class PhoneKeyStore(eid_sdk.PhoneKeyStore):
    """The phone's secure hardware as the app reaches it: P-256 keys that never leave it."""

    def __init__(self, cancel=False):
        self.keys = {}
        self.cancel = cancel
        self.signatures = 0

    def create_key(self, alias):
        self.keys[alias] = ec.generate_private_key(ec.SECP256R1())
        return self.public_key(alias)

    def public_key(self, alias):
        key = self.keys.get(alias)
        if key is None:
            return None
        return key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def sign(self, alias, message):
        if self.cancel:
            raise eid_sdk.KeyStoreError.Cancelled()
        self.signatures += 1
        # DER, as Android's Signature("SHA256withECDSA") gives it.
        return self.keys[alias].sign(message, ec.ECDSA(hashes.SHA256()))


class ProviderServer(eid_sdk.ProviderAttester):
    """The super-app's server attesting the keys of one wallet instance (here with
    `eid provider attest` and the provider's key from eid up's folder)."""

    def __init__(self, folder, provider, instance):
        self.key = os.path.join(folder, "eid-data", "providers", provider, "attestation.key.pem")
        self.provider = provider
        self.instance = instance
        self.work = tempfile.mkdtemp(prefix="attest-")

    def attest(self, public_keys):
        holders = []
        for i, sec1 in enumerate(public_keys):
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(sec1))
            path = os.path.join(self.work, f"k{i}.pem")
            with open(path, "wb") as f:
                f.write(key.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            holders += ["--holder", path]
        out = os.path.join(self.work, "attestation.jwt")
        subprocess.run([EID, "provider", "attest", "--key", self.key, "--provider", self.provider,
                        "--instance", self.instance, *holders, "--out", out],
                       check=True, capture_output=True)
        with open(out) as f:
            return f.read().strip()


def b64url(data):
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode()


def read(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def up(folder):
    """eid up on ports the kernel picks (--port 0: a port picked here and then handed to it
    could be taken meanwhile, and so could the next two, the authorities'); its base URL, from
    the line saying it is up, and its process."""
    log = open(os.path.join(folder, "eid-up.log"), "w")
    process = subprocess.Popen([EID, "up", "--port", "0"], cwd=folder, stdout=log,
                               stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while time.time() < deadline:
        with open(log.name) as f:
            for line in f:
                # A whole line only: the rest may not be written yet.
                if "the story: eid demo --against " in line and line.endswith("\n"):
                    return line.split("--against ", 1)[1].strip(), process
        if process.poll() is not None:
            break
        time.sleep(0.5)
    with open(log.name) as f:
        print(f.read())
    raise SystemExit("eid up did not come up")


async def story(base, folder):
    platform = http("GET", base + "/platform.json")
    nanning = next(a for a in platform["authorities"] if a["key"] == "nanning")
    resident = next(r for r in platform["demo_residents"] if r["authority"] == "nanning")
    airport = next(d for d in platform["desks"] if d["id"] == "nanning-airport")["url"]
    bank = next(d for d in platform["desks"] if d["id"] == "nanning-bank")["url"]
    provider = platform["providers"][0]["id"]
    with open(nanning["admin_token_file"]) as f:
        token = f.read().strip()
    capture = resident["capture"]
    facing, turned = read(capture["facing"]), read(capture["turned"])
    turn = eid_sdk.HeadTurn.LEFT if capture["turn"] == "left" else eid_sdk.HeadTurn.RIGHT

    def counter_offer():
        return http("POST", nanning["admin"] + "/admin/enrolments",
                    {"id_number": resident["id_number"], "full_name": resident["full_name"],
                     "officer": "sdk-story"}, token)

    def at_airport(code):
        return http("POST", airport + "/verify/offline?purpose=airport_security",
                    {"code": b64url(code), "face": base64.b64encode(facing).decode()})

    # The authorities the app works with (from the trust list it reads).
    authorities = [a["public"] for a in platform["authorities"]]

    # 0. TLS: the app may add its provider's private CA before opening a wallet; what is
    #    not a certificate is refused, saying so.
    try:
        eid_sdk.trust_tls_roots(b"not a certificate")
        check(False, "TLS roots that are not PEM certificates are refused")
    except eid_sdk.WalletError.Invalid as e:
        check("PEM" in e.message, f"TLS roots that are not PEM certificates are refused: {e.message}")

    # 1. At the counter. First a wallet told of Hangzhou's authority only: Nanning's offer
    #    is refused before it gets the code, a proof or an attestation.
    keys = PhoneKeyStore()
    elsewhere = await eid_sdk.EidWallet.open(
        os.path.join(folder, "elsewhere"), [a for a in authorities if a != nanning["public"]],
        PhoneKeyStore(), ProviderServer(folder, provider, "sdk-elsewhere-1"))
    offer = counter_offer()
    try:
        await elsewhere.enrol_at_counter(offer["offer_uri"], offer["tx_code"])
        check(False, "an offer from an authority the wallet does not work with is refused")
    except eid_sdk.WalletError.Invalid as e:
        check(True, f"an offer from an authority the wallet does not work with is refused: {e.message}")
    phone = await eid_sdk.EidWallet.open(os.path.join(folder, "phone"), authorities, keys,
                                         ProviderServer(folder, provider, "sdk-phone-1"))
    try:
        await phone.enrol_at_counter(offer["offer_uri"], "000000")
        check(False, "a wrong transaction code is refused")
    except eid_sdk.WalletError.Refused as e:
        check(e.code == "invalid_grant", f"a wrong transaction code is refused by the authority: {e.code}")
    try:
        await phone.show_offline("airport_security")
        check(False, "a wallet with no credential has no offline code")
    except eid_sdk.WalletError.NoCredential as e:
        check(True, f"a wallet with no credential has no offline code: {e.message}")
    offer = counter_offer()
    enrolled = await phone.enrol_at_counter(offer["offer_uri"], offer["tx_code"])
    check("resident_identity_mdoc" in enrolled.credentials
          and "resident_identity_offline_airport_security" in enrolled.credentials,
          f"the phone enrols at the counter: {enrolled.credentials}")
    held = await phone.credentials()
    fresh = [k for k in keys.keys if k != "eid-wallet"]  # the wallet key (WALLET_KEY)
    check(len(fresh) == len(held) and len(held) >= len(enrolled.credentials),
          f"every instance ({len(held)}) is bound to a key of its own in the phone's store ({len(fresh)})")

    # 2. At the airport.
    # The desk fetches the status list the new credentials point to on its own schedule:
    # until then it cannot say (status_undetermined), and says so.
    showing = await phone.show_offline("airport_security")
    code = showing.first_code()
    for _ in range(150):
        report = at_airport(code.code)
        if "status_undetermined" not in json.dumps(report.get("reasons")):
            break
        await asyncio.sleep(0.2)
        code = await showing.next_code()
    check(report.get("accepted") is True, f"the airport desk accepts the phone's offline code: {report.get('reasons')}")
    history = json.loads(await phone.history_json())
    check([p.get("channel") for p in history] == ["offline_qr"],
          f"the history holds the showing once, however many codes it made: {len(history)}")
    try:
        await phone.show_offline("no_such_purpose")
        check(False, "an unknown purpose is refused")
    except eid_sdk.WalletError.Invalid as e:
        check(True, f"an unknown purpose is refused: {e.message}")

    # 2b. At the bank, online. The app hands the wallet the national trust list first.
    def bank_asks():
        return http("POST", bank + "/vp/requests",
                    {"purpose": "bank_account_opening", "face": base64.b64encode(facing).decode()})

    started = bank_asks()
    try:
        await phone.receive_online(started["invocation"])
        check(False, "an online request before any trust list is refused")
    except eid_sdk.WalletError.Invalid as e:
        check(True, f"an online request before any trust list is refused: {e.message}")
    with urllib.request.urlopen(base + "/trust/list", timeout=30) as answer:
        signed = answer.read().decode()
    with open(os.path.join(folder, "eid-data", "trust", "root.jwk")) as f:
        root = f.read()
    version = await phone.use_trust_list(signed, [root])
    check(version >= 1, f"the wallet takes the national trust list, version {version}")
    again = await phone.use_trust_list(signed, [root])
    check(again == version, f"the same trust list again is no change: version {again}")
    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    stranger = json.dumps({"kty": "EC", "crv": "P-256",
                           "x": b64url(other.x.to_bytes(32, "big")),
                           "y": b64url(other.y.to_bytes(32, "big"))})
    try:
        await elsewhere.use_trust_list(signed, [stranger])
        check(False, "a trust list checked against another root is refused")
    except eid_sdk.WalletError.Invalid as e:
        check(True, f"a trust list checked against another root is refused: {e.message}")
    request = await phone.receive_online(started["invocation"])
    consent = request.consent()
    check(consent.relying_party == "nanning-bank" and consent.purpose == "bank_account_opening"
          and len(consent.attributes) > 0,
          f"the phone shows who asks, why and what: {consent.relying_party_name}, "
          f"{consent.purpose_name}, {consent.attributes}")
    await request.share()
    outcome = http("GET", bank + started["result"])
    report = outcome.get("report") or {}
    check(outcome.get("status") == "accepted" and (report.get("presence") or {}).get("matched") is True,
          f"the bank accepts what the phone shared, her face matched: {report.get('reasons')}")
    history = json.loads(await phone.history_json())
    check([(p.get("channel"), p.get("relying_party")) for p in history][-1:] == [("online", "nanning-bank")],
          f"the history keeps the online showing and who it was for: {[p.get('channel') for p in history]}")
    try:
        await request.share()
        check(False, "a request is answered once")
    except eid_sdk.WalletError.Invalid as e:
        check(True, f"a request is answered once: {e.message}")
    declined = bank_asks()
    told = await (await phone.receive_online(declined["invocation"])).decline()
    outcome = http("GET", bank + declined["result"])
    reasons = json.dumps((outcome.get("report") or {}).get("reasons"))
    check(told and outcome.get("status") == "refused" and "holder_declined" in reasons,
          f"a declined request is reported declined to the bank: {reasons}")

    # 2c. She is the guardian of another resident of Nanning's registry, an adult without a
    #     smartphone: the counter registers the delegation and her phone takes its offer,
    #     kept apart from her own.
    with open(os.path.join(folder, "eid-data", "nanning", "residents.jsonl")) as f:
        ward = next(r for r in map(json.loads, f)
                    if r["id_number"] != resident["id_number"] and r["id_number"][6:10] < "2000")
    delegated = http("POST", nanning["admin"] + "/admin/delegations",
                     {"id_number": ward["id_number"], "full_name": ward["full_name"],
                      "holder_id_number": resident["id_number"],
                      "holder_full_name": resident["full_name"],
                      "relationship": "guardian", "officer": "sdk-story"}, token)
    taken = await phone.enrol_at_counter(delegated["offer_uri"], delegated["tx_code"])
    holdings = await phone.holdings()
    check(taken.held_for is not None and [(h.id, h.relationship, h.name, h.live) for h in holdings]
          == [(taken.held_for, "guardian", ward["full_name"], True)],
          f"the phone takes the delegation's offer as a holding apart: {taken.credentials}")
    listed = await phone.credentials()
    check(any(c.held_for == taken.held_for for c in listed)
          and all(c.held_for in (None, taken.held_for) for c in listed),
          "the credentials held for her ward are listed as the holding's")
    # The bank's purpose does not allow delegation: the ward's is refused before anything
    # is sent, and the request can still be answered.
    asked = bank_asks()
    request = await phone.receive_online(asked["invocation"])
    check(request.consent().delegation is False, "the bank does not take a credential held for another")
    try:
        await request.share_held(taken.held_for)
        check(False, "the ward's credential is not shown to the bank")
    except eid_sdk.WalletError.Invalid as e:
        check(True, f"the ward's credential is not shown to the bank: {e.message}")
    try:
        await request.share_held(taken.held_for + 7)
        check(False, "a holding the wallet does not have is refused")
    except eid_sdk.WalletError.Invalid as e:
        check(True, f"a holding the wallet does not have is refused: {e.message}")
    told = await request.decline()
    outcome = http("GET", bank + asked["result"])
    check(told and "holder_declined" in json.dumps((outcome.get("report") or {}).get("reasons")),
          "after it, the request is still hers to decline")
    # The hotel's does: she chooses the ward's, and the desk sees it held by a guardian,
    # the ward's face in front of its camera. (Every synthetic resident's registry portrait
    # is the same fixture, for want of other faces: the ward's face is that photograph.)
    hotel = next(d for d in platform["desks"] if d["id"] == "nanning-hotel")["url"]
    ward_face = base64.b64encode(read(resident["portrait"])).decode()
    asked = http("POST", hotel + "/vp/requests", {"purpose": "hotel_check_in", "face": ward_face})
    request = await phone.receive_online(asked["invocation"])
    check(request.consent().delegation is True, "the hotel takes a credential held for another")
    await request.share_held(taken.held_for)
    report = http("GET", hotel + asked["result"]).get("report") or {}
    attributes = report.get("attributes") or {}
    check(report.get("accepted") is True and report.get("delegated") == "guardian"
          and (attributes.get("family_name", "") + attributes.get("given_name", "")) == ward["full_name"],
          f"the hotel accepts the ward's credential, held by her guardian: {report.get('reasons')}")
    history = json.loads(await phone.history_json())
    check(history[-1].get("held_for") == "guardian",
          "the history says the showing was of a credential she holds for another")
    # The operator widens Nanning's acceptance: a newer list. The wallet keeps the newest
    # it took, so after a restart the older one is refused.
    with open(platform["operator_token_file"]) as f:
        operator = f.read().strip()
    widened = http("POST", base + "/trust/scopes", {"issuer": "cn-4501", "region": "nation"}, operator)
    with urllib.request.urlopen(base + "/trust/list", timeout=30) as answer:
        newer = answer.read().decode()
    taken = await phone.use_trust_list(newer, [root])
    check(taken == widened.get("trust_list_version") and taken > version,
          f"the wallet takes the newer trust list, version {taken}")
    restarted = await eid_sdk.EidWallet.open(os.path.join(folder, "phone"), authorities, keys,
                                             ProviderServer(folder, provider, "sdk-phone-1"))
    try:
        await restarted.use_trust_list(signed, [root])
        check(False, "after a restart, an older trust list is refused")
    except eid_sdk.WalletError.Invalid as e:
        check(True, f"after a restart, an older trust list is refused: {e.message}")
    check(await restarted.use_trust_list(newer, [root]) == taken,
          "after a restart, the newest list is taken again")

    # A key store whose holder cancels the prompt: nothing is signed, the error says why.
    cancelling = PhoneKeyStore(cancel=True)
    cancelling.keys = keys.keys
    same = await eid_sdk.EidWallet.open(os.path.join(folder, "phone"), authorities, cancelling,
                                        ProviderServer(folder, provider, "sdk-phone-1"))
    shown = len(json.loads(await phone.history_json()))
    try:
        await same.show_offline("airport_security")
        check(False, "a cancelled prompt signs nothing")
    except eid_sdk.WalletError.Keys as e:
        after = len(json.loads(await phone.history_json()))
        check("cancelled" in e.message and after == shown,
              f"a cancelled prompt signs nothing and shows nothing: {e.message} ({after - shown} new showings)")
    # Asked to share online, the prompt cancelled: nothing sent; the request can still be
    # declined, and the bank is told so rather than left waiting.
    await same.use_trust_list(newer, [root])
    asked = bank_asks()
    cancelled = await same.receive_online(asked["invocation"])
    try:
        await cancelled.share()
        check(False, "a cancelled prompt shares nothing online")
    except eid_sdk.WalletError.Keys as e:
        told = await cancelled.decline()
        outcome = http("GET", bank + asked["result"])
        reasons = json.dumps((outcome.get("report") or {}).get("reasons"))
        check(told and "holder_declined" in reasons,
              f"a share whose prompt was cancelled sends nothing and can be declined after: {e.message}; {reasons}")

    # 3. The phone is lost: she reports it from her tablet's wallet, with her face.
    tablet = await eid_sdk.EidWallet.open(os.path.join(folder, "tablet"), authorities,
                                          PhoneKeyStore(),
                                          ProviderServer(folder, provider, "sdk-tablet-1"))
    taken = await tablet.report_lost(nanning["public"], resident["id_number"],
                                     resident["full_name"], facing, turned, turn, False)
    check(taken.wallets == 1 and not taken.moved,
          f"the tablet reports the phone lost: {taken.wallets} wallet, {taken.instances} instances suspended")

    # 4. The lost phone's next code is refused at the airport.
    reasons = []
    for _ in range(50):
        code = await showing.next_code()
        report = at_airport(code.code)
        reasons = report.get("reasons") or []
        if report.get("accepted") is False:
            break
        await asyncio.sleep(0.2)
    check("status_suspended" in json.dumps(reasons),
          f"the lost phone's offline code is refused at the airport: {reasons}")

    # 5. Her history survives a lost phone. The phone, enrolled at the counter, has no
    #    history secret; the tablet, enrolled with her face, has one and backs its history
    #    up at the provider — here a dict standing in for the provider's server, which keeps
    #    the bytes as they are and checks only the generation and the place of what it is
    #    sent.
    state = await phone.history_backup_state()
    check(isinstance(state, eid_sdk.HistoryBackupState.UNAVAILABLE),
          f"a wallet enrolled at the counter cannot back up its history: {state}")
    card = read(resident["portrait"])
    await tablet.enrol_remote(nanning["public"], resident["id_number"], resident["full_name"],
                              card, card, facing, turned, turn)
    state = await tablet.history_backup_state()
    check(isinstance(state, eid_sdk.HistoryBackupState.OFF),
          f"enrolled with her face, the tablet may back up its history: {state}")
    provider_keeps = {}
    made = await tablet.start_history_backup(None, False)
    code = made.recovery_code() or ""
    provider_keeps[made.backup_id()] = json.loads(made.stored())
    await made.confirm()
    check(len(code) == 23 and made.backup_id() == state.backup_id,
          "the backup starts, its recovery code shown once")
    await tablet.show_offline("rail_ticketing")
    pending = await tablet.history_backup_pending()
    kept = provider_keeps[made.backup_id()]
    check(pending is not None and pending.generation == kept["generation"]
          and pending.first == len(kept["segments"]) and len(pending.segments) == 1,
          "the showing is sealed for the provider at the backup's next place")
    kept["segments"] += [b64url(s) for s in pending.segments]
    await tablet.history_backup_sent(pending)
    check(await tablet.history_backup_pending() is None, "nothing is left to send")
    text = json.dumps(kept)
    check(not any(w in text for w in ["rail", "offline_qr", "portrait", resident["id_number"]]),
          "what the provider keeps names no purpose, channel, attribute or number")

    # Her new phone, enrolled with her face: the provider's backup found under the same id,
    # refused with another code, restored with hers.
    new = await eid_sdk.EidWallet.open(os.path.join(folder, "new-phone"), authorities,
                                       PhoneKeyStore(),
                                       ProviderServer(folder, provider, "sdk-new-phone-1"))
    await new.enrol_remote(nanning["public"], resident["id_number"], resident["full_name"],
                           card, card, facing, turned, turn)
    state = await new.history_backup_state()
    check(isinstance(state, eid_sdk.HistoryBackupState.OFF) and state.backup_id == made.backup_id(),
          "the new phone finds her backup's id")
    try:
        await new.restore_history_backup(json.dumps(kept), "00000-00000-00000-00000")
        check(False, "another recovery code is refused")
    except eid_sdk.WalletError.Invalid as e:
        check("does not open" in e.message, f"another recovery code is refused: {e.message}")
    restored = await new.restore_history_backup(json.dumps(kept), code.lower())
    provider_keeps[restored.backup_id()] = json.loads(restored.stored())
    await restored.confirm()
    tablet_history = json.loads(await tablet.history_json())
    check(restored.restored() == 1 and json.loads(await new.history_json()) == tablet_history,
          f"the new phone restores the tablet's history: {restored.restored()} entries")
    check(provider_keeps[restored.backup_id()]["generation"] == 1,
          "the restore moves the backup to its next generation, which the old phone cannot add to")


def main():
    folder = tempfile.mkdtemp(prefix="eid-sdk-")
    base, process = up(folder)
    try:
        asyncio.run(story(base, folder))
    finally:
        process.terminate()
        process.wait(timeout=30)
    if failures:
        raise SystemExit(f"sdk story: {len(failures)} failed")
    print("sdk story: all passed")


main()
