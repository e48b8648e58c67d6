"""Verifies intyg SD-JWT VCs with the `sd-jwt` reference implementation from PyPI.

That library checks the signature and the disclosures but neither `typ` nor the validity times, so
this script checks those itself, and checks the x5c chain against the trust anchor with
`cryptography`.

Usage: python3 verify_sd_jwt.py CREDENTIALS_FILE TRUST_ANCHOR_PEM
Prints one JSON object a line: {"valid", "claims", "error"}. Exits 0 when every one is valid.
"""

import base64
import datetime
import json
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier


def load_anchor(path):
    with open(path, "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


def decode_part(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def check_chain(header, anchor):
    """Checks that x5c leads to the anchor and is valid now; returns the signer's JWK."""
    chain = [x509.load_der_x509_certificate(base64.b64decode(der)) for der in header["x5c"]]
    now = datetime.datetime.now(datetime.timezone.utc)
    for certificate in chain:
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise ValueError(f"certificate {certificate.subject.rfc4514_string()} is not valid now")
    for child, parent in zip(chain, chain[1:]):
        child.verify_directly_issued_by(parent)
    last = chain[-1]
    if last.fingerprint(last.signature_hash_algorithm) != anchor.fingerprint(last.signature_hash_algorithm):
        last.verify_directly_issued_by(anchor)
    pem = chain[0].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return JWK.from_pem(pem)


def verify(credential, anchor):
    jws = credential.split("~", 1)[0]
    header = decode_part(jws.split(".")[0])
    payload = decode_part(jws.split(".")[1])
    if header.get("typ") != "dc+sd-jwt":
        raise ValueError(f"typ is {header.get('typ')!r}, expected 'dc+sd-jwt'")
    now = int(time.time())
    if "exp" in payload and payload["exp"] <= now:
        raise ValueError("the credential has expired")
    if "nbf" in payload and payload["nbf"] > now:
        raise ValueError("the credential is not valid yet")
    signer_key = check_chain(header, anchor)
    verifier = SDJWTVerifier(credential, lambda issuer, header_parameters: signer_key)
    return verifier.get_verified_payload()


def main():
    if len(sys.argv) != 3:
        print("usage: python3 verify_sd_jwt.py CREDENTIALS_FILE TRUST_ANCHOR_PEM", file=sys.stderr)
        return 2
    anchor = load_anchor(sys.argv[2])
    all_valid = True
    with open(sys.argv[1], encoding="utf-8") as handle:
        for line in handle:
            credential = line.strip()
            if not credential:
                continue
            try:
                print(json.dumps({"valid": True, "claims": verify(credential, anchor)}, ensure_ascii=False))
            except Exception as error:  # Every failure of one credential is reported, then the next is checked.
                all_valid = False
                print(json.dumps({"valid": False, "error": str(error)}))
    return 0 if all_valid else 1


if __name__ == "__main__":
    sys.exit(main())
