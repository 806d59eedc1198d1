"""Examples of the verifiability operations in the API document (api/resources/proofs.py):
bodies from a real run, kept whole so each signed document matches the fields beside it (the
manifest page is cut to its first two leaves)."""
from __future__ import annotations

KEYS = {
    "keys": [
        {
            "alg": "EdDSA",
            "created_at": "2026-12-06T07:16:34.132271+00:00",
            "crv": "Ed25519",
            "kid": "rxFapUX7ermfYAK9IJ628aOq-mErcvdKwrsijrpXxa4",
            "kty": "OKP",
            "retired_at": None,
            "status": "active",
            "use": "sig",
            "x": "V7yeQMsA3l0YPwrTZFK56MUoZlvSlYVf3LYuxBwWVaM"},
        {
            "alg": "EdDSA",
            "created_at": "2026-12-06T07:16:34.122059+00:00",
            "crv": "Ed25519",
            "kid": "uayeHwJ5uOEGe4Ef-XsmKw03M_gSQR8FfqGReZNQxeM",
            "kty": "OKP",
            "retired_at": "2026-12-06T07:16:34.131231+00:00",
            "status": "retired",
            "use": "sig",
            "x": "mae_hc2wwTQvezRXKGJKYfs2oyKOgDO2E2RHQEDvCn8"}]}

CHAIN_HEADS = {
    "items": [
        {
            "document": ("eyJhbGciOiJFZERTQSIsImtpZCI6IjJ6Si1WTlZWYkR5T19veHB2cGhNOWEzYVlqYzdjWl"
                 "RXeDZLbDFqaEh6amsifQ.eyJoYXNoIjoiNmRjMzRiMGI2NzUxYzZiZDM4MDc2NmUwYmFmN"
                 "zYxOGEwODlmNGI5MzU4YmQ2ZmEzNzhkMGIwMTM3YTllNzJhZiIsInBvc2l0aW9uIjoyLCJ"
                 "wcmV2aW91cyI6bnVsbCwic2VhbGVkX2F0IjoiMjAyNi0xMi0wNlQwNzoxNjozNC4zOTMyM"
                 "DUrMDA6MDAiLCJ0cmFuc2ZlcnNfc2VhbGVkIjoyLCJ0eXBlIjoiY2FyYm9uLWNyZWRpdHM"
                 "vY2hhaW4taGVhZC92MSJ9.GWTYlUuddPGlsoLoQQfuM4BksuCrN2gK1TY2IjNjqZ0h6DUZ"
                 "OOM0S4QIFU0XJskILWc6haovfVP6LUQSGmuxCA"),
            "hash": "6dc34b0b6751c6bd380766e0baf7618a089f4b9358bd6fa378d0b0137a9e72af",
            "kid": "2zJ-VNVVbDyO_oxpvphM9a3aYjc7cZTWx6Kl1jhHzjk",
            "position": 2,
            "sealed_at": "2026-12-06T07:16:34.393205+00:00",
            "transfers_sealed": 2}],
    "next_cursor": None}

LOT_MANIFEST = {
    "document": ("eyJhbGciOiJFZERTQSIsImtpZCI6IkpZaHpKQUZtTzJ2amlSVmNkSmYzbHY5Q3hkWTRobG"
         "xfNF96UkxtZjFqT0EifQ.eyJhY3Rpb25fY291bnQiOjEwLCJpc3N1ZWRfYXQiOiIyMDI2L"
         "TEyLTA2VDA3OjE2OjM2LjQ1Mzk2NiswMDowMCIsImlzc3VlZF9tZyI6OTAwMDAwMCwibG9"
         "0X2lkIjoiZWVjNzVhZjYtODQ3NS00M2M3LWIyOWItZDY2MzVkZmE4ODk2IiwibWVya2xlI"
         "jp7ImxlYWZfdHlwZSI6ImNhcmJvbi1jcmVkaXRzL2xvdC1sZWFmL3YxIiwicm9vdCI6IjU"
         "xZGQwM2IzMTdkMGJlZjk5NzZjNjU1ZmFlZGM2ZGRiNjkzM2RmYTFhZGJlZjUyYmRjZDFlO"
         "DVhNmYzODdiNzMiLCJ0cmVlX3NpemUiOjEwfSwibWV0aG9kb2xvZ3kiOnsiY29kZSI6IlN"
         "ILU1FVFJPIiwidmVyc2lvbiI6MX0sInBlcmlvZCI6eyJmcm9tIjoiMjAyNi0xMS0wMSIsI"
         "nRvIjoiMjAyNi0xMS0zMCJ9LCJxdWFudGl0eSI6OSwicmVtYWluZGVyX21nIjo3MDAwMDA"
         "sInNlcmlhbF9lbmQiOjksInNlcmlhbF9zdGFydCI6MSwic2VyaWFscyI6IkNDLVNILU1FV"
         "FJPLTIwMjYtMDAwMDAwMDAxLTAwMDAwMDAwOSIsInR5cGUiOiJjYXJib24tY3JlZGl0cy9"
         "sb3QvdjEiLCJ1bml0X21nIjoxMDAwMDAwLCJ2ZXJpZmljYXRpb24iOm51bGwsInZlcmlma"
         "WVkX21nIjo5NzAwMDAwLCJ2aW50YWdlX3llYXIiOjIwMjZ9.-wj6eoxH5LzDKVtvF3D7lD"
         "_9cNxPWYqfKk2Pme_rqzILie5YWQlJcM3Fm2h-ufq0S5FkpwvPHZfwyziyWGTcDQ"),
    "first_index": 0,
    "leaves": [
        {
            "action": "037953101d133f3a80b1619a6b33ecc6adc5ac61f1bad4c456db7d6c2fe1dfa7",
            "contributed_mg": 970000,
            "methodology": {
                "code": "SH-METRO",
                "version": 1},
            "type": "carbon-credits/lot-leaf/v1"},
        {
            "action": "0a78fd3e76ff5d593834ea12eb060ecd10121b4570d0a4249393e2370d46ce8f",
            "contributed_mg": 970000,
            "methodology": {
                "code": "SH-METRO",
                "version": 1},
            "type": "carbon-credits/lot-leaf/v1"}],
    "lot_id": "eec75af6-8475-43c7-b29b-d6635dfa8896",
    "next_cursor": "WyIyIl0",
    "root": "51dd03b317d0bef9976c655faedc6ddb6933dfa1adbef52bdcd1e85a6f387b73",
    "tree_size": 10}

LOT_PROOF = {
    "action_id": "4fbcde2c-1cb1-46d5-8671-48c493df237e",
    "audit_path": [
        "a45031f7df6b5115c4a29b44e80226d1939c7903ef2cc0574bf0b2a6a821d034",
        "ede522bbb570a6853a392a28c9e27a7fbb580dfaf84a6e87643b64d7b1a6a673",
        "1f8d9f9a450f5946bed97219fd4ec16b187ba43808ecf7bb7cd6294add2c5de7",
        "6d8d6196a9693721c12cb12d4d6adbf137b268dc4b9c7bcafd355f4b728801f7"],
    "document": ("eyJhbGciOiJFZERTQSIsImtpZCI6IlcyUHNMODAza0JyN1puRzg3Sk9PNlFJc1N5VllsOW"
         "5tOFpuWHhyTFFHUU0ifQ.eyJhY3Rpb25fY291bnQiOjEwLCJpc3N1ZWRfYXQiOiIyMDI2L"
         "TEyLTA2VDA3OjE2OjM3LjQ5NDI1OCswMDowMCIsImlzc3VlZF9tZyI6OTAwMDAwMCwibG9"
         "0X2lkIjoiYmRkZjM2MWQtNDk1OS00YjA4LWE5YzYtY2JhZTk2ZjAzYzBmIiwibWVya2xlI"
         "jp7ImxlYWZfdHlwZSI6ImNhcmJvbi1jcmVkaXRzL2xvdC1sZWFmL3YxIiwicm9vdCI6ImU"
         "2NzgzNTk3YjM3YjZjZTVlNWUwM2YxMWNhZGIxMDI2MjVkZGU3MDQ1MTBiYWJlNTdmZjZlM"
         "zIzZTE5ZDYyOTAiLCJ0cmVlX3NpemUiOjEwfSwibWV0aG9kb2xvZ3kiOnsiY29kZSI6IlN"
         "ILU1FVFJPIiwidmVyc2lvbiI6MX0sInBlcmlvZCI6eyJmcm9tIjoiMjAyNi0xMS0wMSIsI"
         "nRvIjoiMjAyNi0xMS0zMCJ9LCJxdWFudGl0eSI6OSwicmVtYWluZGVyX21nIjo3MDAwMDA"
         "sInNlcmlhbF9lbmQiOjksInNlcmlhbF9zdGFydCI6MSwic2VyaWFscyI6IkNDLVNILU1FV"
         "FJPLTIwMjYtMDAwMDAwMDAxLTAwMDAwMDAwOSIsInR5cGUiOiJjYXJib24tY3JlZGl0cy9"
         "sb3QvdjEiLCJ1bml0X21nIjoxMDAwMDAwLCJ2ZXJpZmljYXRpb24iOm51bGwsInZlcmlma"
         "WVkX21nIjo5NzAwMDAwLCJ2aW50YWdlX3llYXIiOjIwMjZ9.y7J3mtpJhPFyDfNNE6n_NP"
         "9lqQ1ZyqBstP1iMQhbtKpi8ADrcuJcAqrHYYrg1WE8L1-LksPgAg24k5i2gcA7Cg"),
    "leaf": {
        "action": "a9263c820a3cce830c3362384a313904b86736be63fc864f160c79d84dfc3a3f",
        "contributed_mg": 970000,
        "methodology": {
            "code": "SH-METRO",
            "version": 1},
        "type": "carbon-credits/lot-leaf/v1"},
    "leaf_index": 1,
    "lot_id": "bddf361d-4959-4b08-a9c6-cbae96f03c0f",
    "salt": "c620fe2bba5a131fa08ff3a5f1d01f26315e24bc4998554349e667991cba79e6",
    "tree_size": 10}
