"""B1 and B2 of ../shared/BENCH.md: the project's id_token validation and signing, against floors
measured in the same run (plain PyJWT verify with a parsed key; sign with a loaded key object).

    .venv/bin/python bench/lti_crypto.py [--quick]

B1 target: >= 0.60x the plain verify. B2 target: >= 0.80x the loaded-key sign.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from jwt.algorithms import RSAAlgorithm  # noqa: E402

from bench._timing import describe, interleaved, ratio  # noqa: E402

LTI = "https://purl.imsglobal.org/spec/lti/claim/"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small rounds, under a minute")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (smoke tests: 1)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per timed call")
    args = parser.parse_args(argv)
    rounds, seconds = (3, 0.5) if args.quick else (7, 2.0)
    rounds, seconds = args.rounds or rounds, args.seconds or seconds

    import flask_migrate

    from plugin import create_app
    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.lti import keys, launch, platform_keys
    from plugin.tenancy.models import Platform

    tmp = tempfile.mkdtemp()
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                      "TINKER_BASE_URL": "http://localhost", "DEV_LMS_KEY_PATH": f"{tmp}/k.pem"})
    platform_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    parsed_public = platform_key.public_key()
    now = int(time.time())
    claims = {"iss": "https://lms.example", "aud": "client", "sub": "u1", "nonce": "n" * 40, "iat": now,
              "exp": now + 3600, "name": "Bench Person", "email": "bench@example.org",
              LTI + "message_type": "LtiResourceLinkRequest", LTI + "version": "1.3.0",
              LTI + "deployment_id": "1", LTI + "target_link_uri": "http://localhost/lti/launch",
              LTI + "resource_link": {"id": "rl-1", "title": "Tinker"},
              LTI + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"] * 3,
              LTI + "context": {"id": "c1", "label": "C1", "title": "A course with a title" * 3},
              LTI + "custom": {f"k{i}": "v" * 40 for i in range(30)}}
    token = jwt.encode(claims, platform_key, algorithm="RS256", headers={"kid": "k1"})
    with app.app_context():
        flask_migrate.upgrade()
        keys.ensure_key(utcnow())
        db.session.commit()
        platform = Platform(issuer="https://lms.example", client_id="client", auth_login_url="https://lms.example/a",
                            auth_token_url="https://lms.example/t", key_set_url="https://lms.example/jwks",
                            name="bench", organisation_id=1, created_at=utcnow())
        # The key cache as a launch leaves it (parsed once per (key set, kid)).
        jwk = RSAAlgorithm.to_jwk(parsed_public, as_dict=True)
        platform_keys._cache[platform.key_set_url] = platform_keys._KeySet(
            keys={"k1": (RSAAlgorithm.from_jwk(jwk), "RS256")}, fetched_at=time.monotonic())
        header = jwt.get_unverified_header(token)

        def floor_verify():
            jwt.decode(token, parsed_public, algorithms=["RS256"], audience="client", issuer="https://lms.example")

        from datetime import datetime, timezone

        from plugin.lti import jws

        def project_verify():
            parsed = jws.parse(token)
            verified = launch._verify(parsed, platform, 30, 3600, 5.0, datetime.now(timezone.utc))
            launch._check_message(verified)

        kid, loaded = keys.current_signing_key()
        payload = {"iss": "client", "aud": "https://lms.example/t", "sub": "client", "iat": now, "exp": now + 300,
                   "jti": "x" * 32}

        def floor_sign():
            jwt.encode(payload, loaded, algorithm="RS256", headers={"kid": kid})

        def project_sign():
            keys.sign(payload)

        assert header["kid"] == "k1"
        results = interleaved({"verify floor (PyJWT, parsed key)": floor_verify,
                               "B1 project id_token validation": project_verify,
                               "sign floor (loaded key)": floor_sign,
                               "B2 project signing (keys.sign)": project_sign}, rounds, seconds)
    for name, values in results.items():
        print(f"{name:38s} {describe(values)}")
    b1 = ratio(results["B1 project id_token validation"], results["verify floor (PyJWT, parsed key)"])
    b2 = ratio(results["B2 project signing (keys.sign)"], results["sign floor (loaded key)"])
    ok = b1 >= 0.60 and b2 >= 0.80
    print(f"SUMMARY lti_crypto: B1 {b1:.2f}x (target >= 0.60) B2 {b2:.2f}x (target >= 0.80) -> "
          f"{'PASS' if ok else 'MISS'}")
    print(f"RESULT b1_ratio={b1:.2f} b2_ratio={b2:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
