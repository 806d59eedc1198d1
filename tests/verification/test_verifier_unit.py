"""The independent verifier (verifier/carbon_verify), piece by piece: RFC 9162 Merkle trees and
inclusion proofs against the RFC's test vectors and against the service's own implementation
(carbon_credits.domain.proofs), RFC 8037 Ed25519 JWS, RFC 7638 thumbprints, canonical JSON, and
every check docs/verification.md lists for each document kind. Tampering any byte of a document,
proof, leaf or root is caught; malformed input is a clean failure, never an exception."""
from __future__ import annotations

import ast
import copy
import json
import pathlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from radon.complexity import cc_visit

import carbon_verify as cv
from carbon_credits.domain import proofs
from carbon_verify.lots import serial_range
from tests.verification import verifier_support as vs

# --- RFC 9162 / RFC 6962 test vectors ---------------------------------------------------------

RFC_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
RFC_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
RFC_PROOFS = {
    0: ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    5: ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}


def rfc_leaf_hashes(count: int = 8) -> list[bytes]:
    return [cv.leaf_hash(bytes.fromhex(leaf)) for leaf in RFC_LEAVES[:count]]


@pytest.mark.parametrize("size", range(0, 9))
def test_merkle_tree_hash_matches_the_rfc_vectors(size):
    assert cv.tree_hash(rfc_leaf_hashes(size)).hex() == RFC_ROOTS[size]


@pytest.mark.parametrize("index", sorted(RFC_PROOFS))
def test_inclusion_proofs_of_the_rfc_vectors_verify(index):
    path = [bytes.fromhex(node) for node in RFC_PROOFS[index]]
    root = bytes.fromhex(RFC_ROOTS[8])
    leaves = rfc_leaf_hashes()
    assert cv.verify_inclusion(index, 8, leaves[index], path, root)
    assert cv.root_from_inclusion(index, 8, leaves[index], path) == root
    assert not cv.verify_inclusion(index ^ 1, 8, leaves[index ^ 1], path, root)
    for wrong_size in (4, 9, 16):  # (sizes 6 and 7 lead to the same root: only the root binds them)
        assert not cv.verify_inclusion(index, wrong_size, leaves[index], path, root)
    assert not cv.verify_inclusion(index, 8, leaves[index], path[:-1], root)
    assert not cv.verify_inclusion(index, 8, leaves[index], path + [root], root)


def test_inclusion_is_refused_outside_the_tree():
    leaf = rfc_leaf_hashes(1)[0]
    assert cv.root_from_inclusion(0, 1, leaf, []) == leaf
    for index, size in ((0, 0), (1, 1), (-1, 4), (4, 4)):
        assert cv.root_from_inclusion(index, size, leaf, []) is None
    assert cv.root_from_inclusion(True, 2, leaf, [leaf]) is None  # booleans are no indices
    assert cv.root_from_inclusion(0, 2, leaf, [b"short"]) is None


def test_merkle_root_and_inclusion_agree_with_the_service_for_sizes_1_to_70():
    for size in range(1, 71):
        leaves = [cv.leaf_hash(f"leaf {i}".encode()) for i in range(size)]
        assert [proofs.leaf_hash(f"leaf {i}".encode()) for i in range(size)] == leaves
        root = cv.tree_hash(leaves)
        assert root == proofs.merkle_root(leaves), size
        for index in range(size):
            path = proofs.inclusion_path(index, leaves)
            assert cv.verify_inclusion(index, size, leaves[index], path, root), (size, index)
            for other_size in (size - 1, size + 1):  # the same path, the wrong tree size
                assert cv.root_from_inclusion(index, other_size, leaves[index], path) == \
                    proofs.root_from_path(index, other_size, leaves[index], path), (size, index)


@st.composite
def tree_and_proof(draw):
    size = draw(st.integers(1, 64))
    index = draw(st.integers(0, size - 1))
    leaves = [cv.leaf_hash(draw(st.binary(max_size=8)) + bytes([i % 256, i // 256]))
              for i in range(size)]
    return size, index, leaves, proofs.inclusion_path(index, leaves), cv.tree_hash(leaves)


@settings(deadline=None)
@given(tree_and_proof(), st.data())
def test_any_single_byte_change_of_proof_leaf_or_root_fails(case, data):
    size, index, leaves, path, root = case
    assert cv.verify_inclusion(index, size, leaves[index], path, root)
    parts = [leaves[index], root] + list(path)
    target = data.draw(st.integers(0, len(parts) - 1), label="which hash")
    offset = data.draw(st.integers(0, 31), label="byte")
    flip = data.draw(st.integers(1, 255), label="xor")
    changed = bytearray(parts[target])
    changed[offset] ^= flip
    parts[target] = bytes(changed)
    assert not cv.verify_inclusion(index, size, parts[0], parts[2:], parts[1])


# --- encoding ---------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(
        alphabet=st.characters(min_codepoint=32, max_codepoint=126)), inner, max_size=4),
    max_leaves=12)


@given(JSON_VALUES)
def test_canonical_json_is_the_services_for_every_value_we_sign(value):
    try:
        expected = proofs.canonical_json(value)
    except (TypeError, UnicodeEncodeError):  # lone surrogates have no UTF-8
        with pytest.raises(ValueError):
            cv.canonical_json(value)
        return
    assert cv.canonical_json(value) == expected


def test_canonical_json_follows_rfc_8785_for_our_values():
    value = {"b": [1, True, None], "a": "苏州 \"q\" \\ \n\x01\x7f", "é": 0, "A": -5}
    assert cv.canonical_json(value) == \
        '{"A":-5,"a":"苏州 \\"q\\" \\\\ \\n\\u0001\x7f","b":[1,true,null],"é":0}'.encode()
    with pytest.raises(ValueError):
        cv.canonical_json({"grams": 1.5})


@given(st.binary(max_size=40))
def test_base64url_round_trips_and_refuses_every_other_spelling(data):
    text = cv.b64url_encode(data)
    assert "=" not in text and cv.b64url_decode(text) == data
    for bad in (text + "=", text + "*", text + "\n", text.replace("-", "+"), " " + text):
        if bad != text:
            with pytest.raises(ValueError):
                cv.b64url_decode(bad)


def test_base64url_refuses_a_last_character_that_only_changes_unused_bits():
    assert cv.b64url_decode("QQ") == b"A"
    with pytest.raises(ValueError):
        cv.b64url_decode("QR")  # decodes to b"A" too, but is not its encoding


@pytest.mark.parametrize("text", ['{"a":1,"a":2}', "NaN", '{"a": Infinity}', "[" * 100_000,
                                  "", "{", b"\xff\xfe"])
def test_parse_json_refuses_what_our_documents_never_hold(text):
    with pytest.raises(ValueError):
        cv.parse_json(text)


@given(st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_parse_json_of_anything_returns_or_raises_value_error(data):
    try:
        cv.parse_json(data)
    except ValueError:
        pass


# --- keys and JWS: RFC 8037 Appendix A, RFC 7638 ------------------------------------------------

RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_KID = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC8037_JWS = ("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
               "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")


def test_rfc_8037_key_thumbprint_and_signature():
    private = Ed25519PrivateKey.from_private_bytes(cv.b64url_decode(RFC8037_D))
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert cv.b64url_encode(raw) == RFC8037_X
    assert cv.jwk_thumbprint(RFC8037_X) == RFC8037_KID == proofs.jwk_thumbprint(RFC8037_X)
    header, payload, signature = RFC8037_JWS.split(".")
    assert cv.b64url_decode(payload) == b"Example of Ed25519 signing"
    message = f"{header}.{payload}".encode()
    assert cv.ed25519_verifies(raw, message, cv.b64url_decode(signature))
    assert cv.b64url_encode(private.sign(message)) == signature  # Ed25519 is deterministic
    assert not cv.ed25519_verifies(raw, message + b"!", cv.b64url_decode(signature))
    assert not cv.ed25519_verifies(raw, message, cv.b64url_decode(signature)[:63])


def test_the_rfc_8037_jws_is_refused_as_a_document_because_its_header_names_no_kid():
    keys = cv.load_keys({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": RFC8037_KID}]})
    assert list(keys.keys) == [RFC8037_KID]
    with pytest.raises(cv.JwsError, match="no kid"):
        cv.verify_jws(RFC8037_JWS, keys)


@pytest.mark.parametrize("change, reason", [
    ({"kid": "not-the-thumbprint"}, "thumbprint"),
    ({"x": RFC8037_X[:-1]}, "base64url"),
    ({"crv": "X25519"}, "Ed25519"),
    ({"kty": "RSA"}, "Ed25519"),
    ({"alg": "RS256"}, "EdDSA"),
    ({"use": "enc"}, "EdDSA"),
    ({"d": RFC8037_D}, "private"),
])
def test_a_jwk_failing_a_check_is_refused(change, reason):
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": RFC8037_KID, **change}
    keys = cv.load_keys({"keys": [jwk]})
    assert not keys.keys and len(keys.problems) == 1 and reason in keys.problems[0]


@pytest.mark.parametrize("jwks", [None, [], {"keys": {}}, {"keys": ["x"]}, {"kid": 1}])
def test_a_key_set_that_is_no_jwk_set_is_malformed(jwks):
    with pytest.raises(cv.MalformedInput):
        cv.load_keys(jwks)


def test_a_document_signed_by_the_services_signing_module_verifies(app):
    from carbon_credits.services import signing
    with app.app_context():
        payload = vs.receipt_payload()
        document = signing.sign(payload)
        keys = signing.published_keys()
    signed = cv.verify_jws(document, cv.load_keys(keys), proofs.RECEIPT_TYPE)
    assert signed.payload == payload and signed.kid == keys["keys"][0]["kid"]
    assert cv.verify_receipt({"document": document}, keys).ok


SIGNER = vs.Signer()
KEYS = cv.load_keys(vs.key_set(SIGNER))


def forged(header: dict, payload=b'{"type":"carbon-credits/receipt/v1"}', signature=b"") -> str:
    return ".".join([cv.b64url_encode(json.dumps(header).encode()), cv.b64url_encode(payload),
                     cv.b64url_encode(signature)])


@pytest.mark.parametrize("token, reason", [
    (forged({"alg": "none", "kid": SIGNER.kid}), "only EdDSA"),
    (forged({"alg": "HS256", "kid": SIGNER.kid}, signature=b"x" * 32), "only EdDSA"),
    (forged({"alg": "ES256", "kid": SIGNER.kid}, signature=b"x" * 64), "only EdDSA"),
    (SIGNER.sign({"type": "t"}, header={"alg": "EdDSA", "kid": SIGNER.kid, "crit": ["exp"]}), "crit"),
    (SIGNER.sign({"type": "t"}, header={"alg": "EdDSA", "kid": SIGNER.kid, "typ": "JWT"}), "typ"),
    (SIGNER.sign({"type": "t"}, header={"alg": "EdDSA", "kid": SIGNER.kid, "jwk": SIGNER.jwk()}), "jwk"),
    (SIGNER.sign({"type": "t"}, header={"alg": "EdDSA", "kid": vs.Signer(2).kid}), "not in the key set"),
    (vs.Signer(2).sign({"type": "t"}, header={"alg": "EdDSA", "kid": SIGNER.kid}), "does not verify"),
    (SIGNER.sign(b"[1,2]"), "not a JSON object"),
    (SIGNER.sign(b"not json"), "not JSON"),
    ("a.b", "three parts"),
    ("a.b.c.d", "three parts"),
    ("..", "not JSON"),
    (42, "not a string"),
])
def test_jws_that_is_not_exactly_ours_is_refused(token, reason):
    with pytest.raises(cv.JwsError, match=reason):
        cv.verify_jws(token, KEYS)


def test_a_document_of_another_type_is_refused():
    token = SIGNER.sign(vs.receipt_payload(type=proofs.CHAIN_HEAD_TYPE))
    with pytest.raises(cv.JwsError, match="expected"):
        cv.verify_jws(token, KEYS, proofs.RECEIPT_TYPE)
    assert cv.verify_jws(token, KEYS).payload["type"] == proofs.CHAIN_HEAD_TYPE


def test_a_key_whose_kid_is_not_its_thumbprint_verifies_nothing():
    bad = cv.load_keys({"keys": [SIGNER.jwk(kid=vs.Signer(3).kid)]})
    with pytest.raises(cv.JwsError, match="not in the key set"):
        cv.verify_jws(SIGNER.sign({"type": "t"}), bad)
    report = cv.verify_receipt(vs.receipt_answer(SIGNER), {"keys": [SIGNER.jwk(kid="wrong")]})
    assert not report.ok and any("thumbprint" in failure for failure in report.failures)


VALID_TOKEN = SIGNER.sign(vs.receipt_payload())


@given(st.integers(0, len(VALID_TOKEN) - 1), st.characters(max_codepoint=255))
def test_any_single_character_change_of_a_jws_fails(position, char):
    tampered = VALID_TOKEN[:position] + char + VALID_TOKEN[position + 1:]
    if tampered == VALID_TOKEN:
        return
    with pytest.raises(cv.JwsError):
        cv.verify_jws(tampered, KEYS, proofs.RECEIPT_TYPE)


@given(st.integers(0, len(VALID_TOKEN)))
def test_a_truncated_jws_fails(length):
    if length < len(VALID_TOKEN):
        with pytest.raises(cv.JwsError):
            cv.verify_jws(VALID_TOKEN[:length], KEYS)


@given(st.text() | st.binary().map(lambda b: b.decode("latin-1"))
       | st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/"),
                  min_size=1, max_size=4).map(".".join))
def test_random_text_as_a_jws_is_a_clean_refusal(token):
    with pytest.raises(cv.JwsError):
        cv.verify_jws(token, KEYS)


# --- receipts ---------------------------------------------------------------------------------

def failures_mention(report, *words) -> bool:
    return not report.ok and any(all(w in f for w in words) for f in report.failures)


def test_a_receipt_as_served_verifies_and_says_what_it_checked():
    report = cv.verify_receipt(vs.receipt_answer(SIGNER), vs.key_set(SIGNER))
    assert report.ok and report.exit_code == 0, report.failures
    assert any("signature verifies" in check for check in report.checks)
    assert cv.verify_receipt({"action_id": vs.receipt_payload()["action_id"],
                              "document": VALID_TOKEN}, KEYS).ok  # the export's entries


def test_a_receipt_signed_before_a_rotation_verifies_with_the_retired_key_still_published():
    old, new = vs.Signer(5), vs.Signer(6)
    keys = {"keys": [new.jwk(), old.jwk(status="retired", retired_at="2026-12-01T00:00:00+00:00")]}
    assert cv.verify_receipt(vs.receipt_answer(old), keys).ok
    assert not cv.verify_receipt(vs.receipt_answer(old), vs.key_set(new)).ok


@pytest.mark.parametrize("path, value", [
    (("receipt", "points"), 9700), (("receipt", "credited_mg"), 970001),
    (("receipt", "inputs", "distance_m"), "12400"), (("receipt", "chain"), None),
    (("receipt", "chain", "hash"), "cd" * 32), (("action_id",), "someone else's"),
    (("receipt", "methodology", "version"), True),
])
def test_a_tampered_unsigned_copy_of_the_receipt_is_caught(path, value):
    answer = vs.receipt_answer(SIGNER)
    target = answer
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert failures_mention(cv.verify_receipt(answer, KEYS), "differs from the signed")


def test_a_receipt_with_wrong_arithmetic_or_missing_fields_fails_though_signed():
    assert failures_mention(cv.verify_receipt(
        vs.receipt_answer(SIGNER, vs.receipt_payload(credited_g="970")), KEYS), "credited_g")
    payload = vs.receipt_payload()
    del payload["ledger_entry"]
    assert failures_mention(cv.verify_receipt(vs.receipt_answer(SIGNER, payload), KEYS),
                            "ledger_entry is missing")


def test_an_unsealed_receipt_verifies_and_says_so():
    report = cv.verify_receipt(vs.receipt_answer(SIGNER, vs.receipt_payload(chain=None)), KEYS)
    assert report.ok and any("not yet sealed" in check for check in report.checks)


def test_a_receipt_is_held_against_a_signed_chain_head_at_its_position():
    heads = vs.head_payloads(3)
    at = heads[1]
    matching = vs.receipt_payload(chain={"position": at["position"], "hash": at["hash"],
                                         "sealed_at": at["sealed_at"]})
    lines = vs.open_data_lines(SIGNER, heads)
    assert cv.verify_receipt(vs.receipt_answer(SIGNER, matching), KEYS, chain_heads=lines).ok
    other = vs.receipt_payload(chain={**matching["chain"], "hash": "ee" * 32})
    assert failures_mention(cv.verify_receipt(vs.receipt_answer(SIGNER, other), KEYS,
                                              chain_heads=lines), "differs from the signed chain")


@pytest.mark.parametrize("answer", [None, [], "x", {}, {"document": 5}, {"receipt": {}}])
def test_a_receipt_answer_without_its_document_is_malformed(answer):
    report = cv.verify_receipt(answer, KEYS)
    assert report.malformed and report.exit_code == 2


def test_an_unknown_member_in_an_answer_is_reported():
    answer = {**vs.receipt_answer(SIGNER), "note": "trust me"}
    assert failures_mention(cv.verify_receipt(answer, KEYS), "'note'")


# --- manifests --------------------------------------------------------------------------------

def test_a_manifest_as_served_verifies_in_one_page_or_many():
    lot = vs.build_lot(23)
    assert cv.verify_manifest(vs.manifest_answer(SIGNER, lot), KEYS).ok
    pages = vs.manifest_pages(SIGNER, lot, page_size=5)
    assert len(pages) == 5
    report = cv.verify_manifest(list(reversed(pages)), KEYS)  # any order: joined by first_index
    assert report.ok, report.failures
    assert any("Merkle root" in check for check in report.checks)


@pytest.mark.parametrize("count", [1, 2, 3, 8, 9, 33])
def test_manifests_of_several_sizes_verify(count):
    assert cv.verify_manifest(vs.manifest_answer(SIGNER, vs.build_lot(count)), KEYS).ok


def test_incomplete_or_overlapping_manifest_pages_fail():
    pages = vs.manifest_pages(SIGNER, vs.build_lot(12), page_size=4)
    assert failures_mention(cv.verify_manifest(pages[:2], KEYS), "more leaves follow")
    assert failures_mention(cv.verify_manifest([pages[0], pages[2]], KEYS), "page is missing")
    assert failures_mention(cv.verify_manifest(pages + [pages[1]], KEYS), "overlap")
    moved = copy.deepcopy(pages)
    moved[0]["next_cursor"] = moved[1]["next_cursor"]
    assert failures_mention(cv.verify_manifest(moved, KEYS), "next_cursor")


def lot_with(lot: vs.Lot, **changes) -> vs.Lot:
    return vs.Lot({**lot.payload, **changes}, lot.leaves, lot.action_ids, lot.salts)


@pytest.mark.parametrize("changes, words", [
    ({"issued_mg": 1}, "issued_mg"),
    ({"remainder_mg": 5}, "remainder_mg"),
    ({"serial_end": 99}, "units"),
    ({"serials": "CC-SH-METRO-2026-000000001-000000099"}, "serials"),
    ({"serials": "CC-SH-BUS-2026-000000001-000000009"}, "serials"),
    ({"action_count": 8}, "action_count"),
    ({"verified_mg": 10_000_000, "remainder_mg": 0, "quantity": 10, "issued_mg": 10_000_000,
      "serial_end": 10, "serials": "CC-SH-METRO-2026-000000001-000000010"}, "verified_mg"),
    ({"methodology": {"code": "SH-METRO", "version": 2}}, "methodology"),
    ({"period": {"from": "2026-10-01", "to": "2027-01-31"}}, "vintage"),
    ({"merkle": {"leaf_type": "carbon-credits/lot-leaf/v1", "tree_size": 7, "root": "00" * 32}}, "root"),
])
def test_a_signed_lot_document_that_does_not_add_up_fails(changes, words):
    lot = vs.build_lot(7)
    report = cv.verify_manifest(vs.manifest_answer(SIGNER, lot_with(lot, **changes)), KEYS)
    assert failures_mention(report, words), report.failures


@pytest.mark.parametrize("name, value", [("root", "00" * 32), ("tree_size", 8), ("lot_id", "other")])
def test_a_tampered_unsigned_copy_in_a_manifest_is_caught(name, value):
    answer = vs.manifest_answer(SIGNER, vs.build_lot(7))
    answer[name] = value
    assert failures_mention(cv.verify_manifest(answer, KEYS), name, "differs from the signed")


def test_manifest_leaves_out_of_order_or_of_another_methodology_fail():
    lot = vs.build_lot(7)
    answer = vs.manifest_answer(SIGNER, lot)
    answer["leaves"][0], answer["leaves"][1] = answer["leaves"][1], answer["leaves"][0]
    assert failures_mention(cv.verify_manifest(answer, KEYS), "sorted")
    answer = vs.manifest_answer(SIGNER, lot)
    answer["leaves"][3] = {**answer["leaves"][3], "methodology": {"code": "SH-BUS", "version": 1}}
    assert failures_mention(cv.verify_manifest(answer, KEYS), "leaf 3", "methodology")
    answer = vs.manifest_answer(SIGNER, lot)
    answer["leaves"][2] = {**answer["leaves"][2], "contributed_mg": 1.5}
    assert failures_mention(cv.verify_manifest(answer, KEYS), "leaf 2", "integer")


MANIFEST_LOT = vs.build_lot(11)
MANIFEST = vs.manifest_answer(SIGNER, MANIFEST_LOT)


@given(st.integers(0, 10), st.sampled_from(["action", "contributed_mg", "methodology"]), st.data())
def test_any_change_to_one_leaf_fails_the_manifest(index, name, data):
    answer = copy.deepcopy(MANIFEST)
    leaf = answer["leaves"][index]
    if name == "action":
        position = data.draw(st.integers(0, 63))
        digit = data.draw(st.sampled_from("0123456789abcdef").filter(lambda d: d != leaf["action"][position]))
        leaf["action"] = leaf["action"][:position] + digit + leaf["action"][position + 1:]
    elif name == "contributed_mg":
        leaf["contributed_mg"] += data.draw(st.integers(1, 10**6) | st.integers(-10**6, -1))
    else:
        leaf["methodology"] = {"code": "SH-METRO", "version": data.draw(st.integers(2, 9))}
    assert not cv.verify_manifest(answer, KEYS).ok


@pytest.mark.parametrize("source", [None, [], "x", [{"lot_id": "x"}], {**MANIFEST, "leaves": "x"}])
def test_a_manifest_missing_its_fields_is_malformed(source):
    assert cv.verify_manifest(source, KEYS).exit_code == 2


# --- lot proofs -------------------------------------------------------------------------------

@pytest.mark.parametrize("count", [1, 2, 5, 8, 13])
def test_the_lot_proof_of_every_action_verifies(count):
    lot = vs.build_lot(count, seed=count)
    for index in range(count):
        report = cv.verify_lot_proof(vs.lot_proof_answer(SIGNER, lot, index), KEYS)
        assert report.ok, (index, report.failures)


@pytest.mark.parametrize("name, value, words", [
    ("salt", "00" * 32, "SHA-256(salt"),
    ("salt", "not hex", "salt"),
    ("action_id", "00000000-0000-0000-0000-000000000001", "SHA-256(salt"),
    ("leaf_index", 1, "inclusion proof"),
    ("leaf_index", 99, "wrong shape"),
    ("tree_size", 8, "differs from the signed"),
    ("lot_id", "x", "differs from the signed"),
    ("audit_path", [], "wrong shape"),
    ("audit_path", ["zz"], "SHA-256 hashes"),
])
def test_a_tampered_lot_proof_fails(name, value, words):
    answer = vs.lot_proof_answer(SIGNER, vs.build_lot(7), 3)
    answer[name] = value
    assert failures_mention(cv.verify_lot_proof(answer, KEYS), words)


def test_a_lot_proof_whose_leaf_is_not_the_lots_fails():
    lot = vs.build_lot(7)
    answer = vs.lot_proof_answer(SIGNER, lot, 2)
    answer["leaf"] = {**answer["leaf"], "methodology": {"code": "SH-BUS", "version": 1}}
    assert failures_mention(cv.verify_lot_proof(answer, KEYS), "methodology")
    answer = vs.lot_proof_answer(SIGNER, lot, 2)
    answer["leaf"] = {**answer["leaf"], "contributed_mg": answer["leaf"]["contributed_mg"] + 1}
    assert failures_mention(cv.verify_lot_proof(answer, KEYS), "inclusion proof leads")


PROOF = vs.lot_proof_answer(SIGNER, vs.build_lot(9), 4)


@given(st.sampled_from(["salt", "audit_path", "leaf.action"]), st.data())
def test_any_hex_digit_change_in_a_lot_proof_fails(name, data):
    answer = copy.deepcopy(PROOF)
    holder, key = (answer["leaf"], "action") if name == "leaf.action" else (answer, name)
    if name == "audit_path":
        holder, key = answer["audit_path"], data.draw(st.integers(0, len(answer["audit_path"]) - 1))
    position = data.draw(st.integers(0, 63))
    digit = data.draw(st.sampled_from("0123456789abcdef").filter(lambda d: d != holder[key][position]))
    holder[key] = holder[key][:position] + digit + holder[key][position + 1:]
    assert not cv.verify_lot_proof(answer, KEYS).ok


# --- certificates -----------------------------------------------------------------------------

CERT_LOT = vs.build_lot(9)  # 9 actions of ~1.24 kg: 11 serials


def test_a_certificate_verifies_alone_and_against_its_lots_manifest():
    answer = vs.certificate_answer(SIGNER, vs.certificate_payload(CERT_LOT, ((1, 2), (5, 5), (7, 11))))
    assert cv.verify_certificate(answer, KEYS).ok
    report = cv.verify_certificate(answer, KEYS, manifest=vs.manifest_pages(SIGNER, CERT_LOT, page_size=4))
    assert report.ok, report.failures
    assert any("lies in the lot's range" in check for check in report.checks)


@pytest.mark.parametrize("changes, words", [
    ({"retired_mg": 1}, "retired_mg"),
    ({"retired_g": "2000"}, "retired_g"),
    ({"quantity": 3, "retired_mg": 3_000_000, "retired_g": "3000.000"}, "quantity"),
    ({"serials": ["CC-SH-METRO-2026-1-2"]}, "is not CC-SH-METRO-2026"),
    ({"serials": ["CC-SH-BUS-2026-000000001-000000002"]}, "is not CC-SH-METRO-2026"),
    ({"serials": ["CC-SH-METRO-2025-000000001-000000002"]}, "is not CC-SH-METRO-2026"),
    ({"serials": ["CC-SH-METRO-2026-000000001", "CC-SH-METRO-2026-000000001"]}, "overlap"),
    ({"period": {"from": "2026-10-01", "to": "2026-09-30"}}, "period ends before"),
])
def test_a_certificate_that_does_not_add_up_fails(changes, words):
    payload = vs.certificate_payload(CERT_LOT, **changes)
    assert failures_mention(cv.verify_certificate(vs.certificate_answer(SIGNER, payload), KEYS), words)


@pytest.mark.parametrize("changes, words", [
    ({"lot_id": "another"}, "lot_id"),
    ({"methodology": {"code": "SH-METRO", "version": 2}}, "methodology"),
    ({"vintage_year": 2025, "serials": ["CC-SH-METRO-2025-000000001-000000002"],
      "period": {"from": "2025-10-01", "to": "2025-10-31"}}, "vintage"),
    ({"lot_merkle_root": "00" * 32}, "lot_merkle_root"),
    ({"serials": ["CC-SH-METRO-2026-000000011-000000012"]}, "outside the lot"),
])
def test_a_certificate_that_is_not_of_the_manifests_lot_fails(changes, words):
    answer = vs.certificate_answer(SIGNER, vs.certificate_payload(CERT_LOT, **changes))
    assert cv.verify_certificate(answer, KEYS).ok  # on its own, nothing is wrong with it
    report = cv.verify_certificate(answer, KEYS, manifest=vs.manifest_answer(SIGNER, CERT_LOT))
    assert failures_mention(report, words), report.failures


@pytest.mark.parametrize("path, value", [
    (("certificate", "beneficiary"), "Someone Else Ltd"), (("certificate", "quantity"), 200),
    (("certificate", "serials", 0), "CC-SH-METRO-2026-000000001-000000009"),
    (("certificate_id",), "another"),
])
def test_a_tampered_unsigned_copy_of_the_certificate_is_caught(path, value):
    answer = vs.certificate_answer(SIGNER, vs.certificate_payload(CERT_LOT))
    target = answer
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert failures_mention(cv.verify_certificate(answer, KEYS), "differs from the signed")


def test_a_certificate_whose_manifest_does_not_verify_is_not_compared():
    answer = vs.certificate_answer(SIGNER, vs.certificate_payload(CERT_LOT))
    manifest = vs.manifest_answer(vs.Signer(9), CERT_LOT)
    assert failures_mention(cv.verify_certificate(answer, KEYS, manifest=manifest), "not compared")


@pytest.mark.parametrize("serial, code, expected", [
    ("CC-SH-METRO-2026-000000042", "SH-METRO", (42, 42)),
    ("CC-SH-METRO-2026-000000001-000000040", "SH-METRO", (1, 40)),
    ("CC-A-B-C-2026-000000007-000000009", "A-B-C", (7, 9)),
    ("CC-SH-METRO-2026-1234567890", "SH-METRO", (1234567890, 1234567890)),
    ("CC-SH-METRO-2026-0000000042", "SH-METRO", None),  # ten digits for a nine-digit number
    ("CC-SH-METRO-2026-000000040-000000001", "SH-METRO", None),
    ("CC-SH-METRO-2026-000000000", "SH-METRO", None),
    ("CC-SH-METRO-2026-00000004２", "SH-METRO", None),  # a full-width digit
    ("CC-SH-METRO-2026-000000001-", "SH-METRO", None),
    ("XX-SH-METRO-2026-000000001", "SH-METRO", None),
    ("CC-SH-METRO-2026-000000001", "SH", None),
])
def test_serials_parse_only_in_their_written_form(serial, code, expected):
    assert serial_range(serial, code, 2026) == expected


# --- chain heads ------------------------------------------------------------------------------

HEADS = vs.head_payloads(12)


def test_chain_heads_verify_from_endpoint_pages_open_data_lines_or_items_in_any_order():
    pages = vs.heads_pages(SIGNER, HEADS, limit=5)
    assert len(pages) == 3 and pages[0]["items"][0]["position"] == HEADS[-1]["position"]
    for source in (pages, pages[0], list(reversed(pages)), vs.open_data_lines(SIGNER, HEADS),
                   [item for page in pages for item in page["items"]],
                   pages + vs.open_data_lines(SIGNER, HEADS[3:8])):  # overlapping sources
        report = cv.verify_chain_heads(source, KEYS)
        assert report.ok, report.failures
    report = cv.verify_chain_heads(pages, KEYS)
    assert any("11 consecutive pair(s) linked" in check for check in report.checks)


def test_chain_heads_with_gaps_verify_and_say_so():
    report = cv.verify_chain_heads(vs.open_data_lines(SIGNER, HEADS[:3] + HEADS[6:]), KEYS)
    assert report.ok and any("1 gap" in check for check in report.checks)


def test_two_heads_at_one_position_with_different_hashes_fail():
    rewritten = vs.head_payloads(12, seed=2)[5]
    rewritten = {**HEADS[5], "hash": rewritten["hash"]}
    lines = vs.open_data_lines(SIGNER, HEADS) + vs.open_data_lines(SIGNER, [rewritten])
    assert failures_mention(cv.verify_chain_heads(lines, KEYS), "different hashes")


def test_a_head_whose_previous_does_not_link_fails():
    heads = copy.deepcopy(HEADS)
    heads[4]["previous"]["hash"] = "00" * 32
    assert failures_mention(cv.verify_chain_heads(vs.open_data_lines(SIGNER, heads), KEYS),
                            "previous hash differs")
    heads = copy.deepcopy(HEADS)
    heads[4]["previous"] = None
    assert failures_mention(cv.verify_chain_heads(vs.open_data_lines(SIGNER, heads), KEYS),
                            "claims to be the first")
    heads = copy.deepcopy(HEADS)
    heads[4]["previous"] = heads[2]["previous"]
    assert failures_mention(cv.verify_chain_heads(vs.open_data_lines(SIGNER, heads), KEYS),
                            "lies in between")


def test_a_head_whose_transfers_sealed_does_not_fit_fails():
    heads = copy.deepcopy(HEADS)
    heads[3]["transfers_sealed"] += 1
    assert failures_mention(cv.verify_chain_heads(vs.open_data_lines(SIGNER, heads), KEYS),
                            "seals")


@pytest.mark.parametrize("name, value", [("position", 1), ("hash", "00" * 32), ("kid", "x"),
                                         ("transfers_sealed", 999), ("sealed_at", "2020-01-01")])
def test_a_tampered_unsigned_field_of_a_listed_head_is_caught(name, value):
    pages = vs.heads_pages(SIGNER, HEADS)
    pages[0]["items"][3][name] = value
    assert failures_mention(cv.verify_chain_heads(pages, KEYS), "differs from the signed")


def test_a_page_cursor_that_does_not_name_its_oldest_head_fails():
    pages = vs.heads_pages(SIGNER, HEADS, limit=5)
    pages[0]["next_cursor"] = pages[1]["next_cursor"]
    assert failures_mention(cv.verify_chain_heads(pages, KEYS), "next_cursor")


def test_an_empty_page_of_heads_verifies_with_nothing_to_check():
    report = cv.verify_chain_heads({"items": [], "next_cursor": None}, KEYS)
    assert report.ok and "nothing to check" in report.checks[-1]


@pytest.mark.parametrize("source", [None, "x", [{"position": 1}], {"items": "x"}, [[1]]])
def test_chain_heads_without_documents_are_malformed(source):
    assert cv.verify_chain_heads(source, KEYS).exit_code == 2


# --- malformed input never raises -------------------------------------------------------------

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.sampled_from([VALID_TOKEN]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["document", "items", "leaves", "receipt", "lot_id", "tree_size", "root",
                         "first_index", "next_cursor", "salt", "leaf", "leaf_index", "audit_path",
                         "action_id", "position", "hash", "x"]), inner, max_size=6),
    max_leaves=15)


@settings(deadline=None)
@given(ANY_JSON, ANY_JSON)
def test_arbitrary_json_is_a_clean_failure_for_every_kind(answer, keys):
    for verify in (cv.verify_receipt, cv.verify_manifest, cv.verify_lot_proof,
                   cv.verify_certificate, cv.verify_chain_heads):
        for key_set in (keys, KEYS):
            report = verify(answer, key_set)
            assert isinstance(report, cv.Report)
            if verify is not cv.verify_chain_heads:
                assert not report.ok


# --- the package stays independent and small --------------------------------------------------

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "verifier"
SERVICE_MODULES = {"carbon_credits", "api", "models", "wsgi", "tests", "worker", "scheduler"}


def test_the_verifier_imports_nothing_of_the_service():
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) >= 8
    offenders = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            offenders += [f"{path.name}: {name}" for name in names
                          if name.split(".")[0] in SERVICE_MODULES
                          or name.split(".")[0] not in ALLOWED_TOP_LEVEL]
    assert not offenders, offenders


ALLOWED_TOP_LEVEL = {"carbon_verify", "cryptography", "__future__", "argparse", "base64",
                     "collections", "contextlib", "dataclasses", "datetime", "decimal", "hashlib",
                     "hmac", "itertools", "json", "pathlib", "re", "sys", "typing"}


def test_the_verifier_keeps_the_size_budget():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 400:
            offenders.append(f"{path.name}: {text.count(chr(10))} lines")
        for block in cc_visit(text):
            if block.endline - block.lineno + 1 > 60 or block.complexity > 15:
                offenders.append(f"{path.name}::{block.fullname}")
    assert not offenders, offenders


def test_the_verifier_declares_only_cryptography():
    text = (PACKAGE / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dependencies = ["cryptography>=42"]' in text and 'name = "carbon-verify"' in text
