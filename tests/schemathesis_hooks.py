"""Serializers for the contract test (tests/api/contract.rs): the bodies of
POST /api/admin/imports are described as arrays of product rows; these write such an array
as the file the endpoint takes, CSV with a header row or JSON lines."""
import csv
import io
import json

import schemathesis

COLUMNS = ["sku", "name", "slug", "description", "category", "brand", "price", "sale_price", "stock", "active"]


def rows(value):
    """The rows of an array of objects; None for anything else (a negative test's body)."""
    if isinstance(value, list) and all(isinstance(r, dict) for r in value):
        return value
    return None


@schemathesis.serializer("text/csv")
def to_csv(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if rows(value) is None:
        return json.dumps(value).encode()
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows(value):
        w.writerow(["" if r.get(c) is None else str(r.get(c)).lower() if isinstance(r.get(c), bool) else r.get(c) for c in COLUMNS])
    return out.getvalue().encode()


@schemathesis.serializer("application/x-ndjson")
def to_jsonl(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if rows(value) is None:
        return (json.dumps(value) + "\n").encode()
    return "".join(json.dumps(r) + "\n" for r in rows(value)).encode()


# A picture the upload takes: a 1×1 PNG. Schema-valid bytes for `file` are any bytes, but
# the endpoint reads them as a picture (415 for what is not one, which has its own tests).
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU"
       b"\x00\x00\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00\x00\x00\x00IEND\xaeB`\x82")


@schemathesis.hook
def map_body(ctx, body):
    op = getattr(ctx, "operation", None)
    if op is not None and op.path == "/api/admin/products/{id}/images" and isinstance(body, dict) and "file" in body:
        body = dict(body)
        body["file"] = PNG
    return body


@schemathesis.hook
def filter_body(ctx, body):
    """Every field of a multipart form is text: a number or a list "in" `alt` arrives as its
    text, which the upload takes as the words it is. Such bodies are no schema violation."""
    op = getattr(ctx, "operation", None)
    if op is not None and op.path == "/api/admin/products/{id}/images" and isinstance(body, dict):
        return body.get("alt") is None or isinstance(body["alt"], str)
    return True
