#!/usr/bin/env python3
"""Writes the sample folder's PDFs (a two-page security policy, a one-page office guide) with nothing
but the standard library, so the repository holds no binary files. Deterministic: the same bytes every
run. Usage: scripts/make-sample-pdfs.py [samples-dir]"""
import sys
from pathlib import Path

DOCUMENTS = {
    "handbook/security-policy.pdf": (
        "Information Security Policy",
        [
            [
                "Information Security Policy",
                "",
                "1. Passwords",
                "Passwords must have at least 14 characters. Never reuse a password you use",
                "anywhere else. The password manager is the only approved place to store them.",
                "",
                "2. Multi-factor authentication",
                "Multi-factor authentication is mandatory for email, the VPN and the HR portal.",
                "Use the authenticator app; text messages are not accepted as a second factor.",
                "",
                "3. Lost or stolen devices",
                "Report a lost laptop or phone to the help desk within one hour, day or night,",
                "by calling extension 4444. The device is wiped remotely.",
            ],
            [
                "4. Data classification",
                "Documents are public, internal, confidential or secret. Confidential documents",
                "may only be shared with named people; secret documents never leave the office.",
                "",
                "5. Phishing",
                "Forward suspicious email to phishing@example.com and delete it. The security",
                "team runs a phishing exercise every quarter.",
                "",
                "6. Security incidents",
                "Security incidents are handled by the on-call security engineer, reachable",
                "through the incident hotline at extension 5555.",
            ],
        ],
    ),
    "handbook/office-guide.pdf": (
        "Office Guide",
        [
            [
                "Office Guide",
                "",
                "The office opens at 7:30 and closes at 20:00 on weekdays.",
                "Visitors sign in at reception on the ground floor and wear a visitor badge.",
                "The canteen on floor 2 serves lunch from 11:30 to 14:00.",
                "Bicycles are parked in the courtyard shed; the code is at reception.",
                "Meeting rooms are booked in the calendar; cancel bookings you do not need.",
            ],
        ],
    ),
}


def escape(text):
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf(title, pages):
    objects = []  # index i holds object i+1

    def add(body):
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pages_id = add(None)  # filled below
    page_ids = []
    for lines in pages:
        ops = ["BT", "/F1 18 Tf", "72 770 Td", "22 TL"]
        first = True
        for line in lines:
            if not first:
                ops.append("T*")
            ops.append(f"({escape(line)}) Tj")
            if first:
                ops += ["/F1 11 Tf", "15 TL"]
                first = False
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page_ids.append(add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (pages_id, font, content)))
    kids = " ".join(f"{p} 0 R" for p in page_ids).encode()
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(page_ids)
    info = add(b"<< /Title (" + escape(title).encode("latin-1") + b") /Producer (Lore samples) >>")
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, catalog, info, xref)
    return bytes(out)


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "samples")
    for relative, (title, pages) in DOCUMENTS.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data = pdf(title, pages)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)


if __name__ == "__main__":
    main()
