#!/usr/bin/env python3
"""Generate the labelled accuracy dataset of the data-masking plugin.

    python3 -m pip install -r tests/masking/requirements.txt
    python3 tests/masking/generate.py            # writes tests/masking/dataset.jsonl

The dataset is committed (so tests need no Python) and this script
regenerates it byte for byte: Faker is pinned (requirements.txt) and every
random choice comes from fixed seeds.

One JSON object per line:

* `kind`: `pii` or `non_pii`;
* `entity`: for `pii`, the entity the plugin must find (`email`, `phone`,
  `card`, `iban`, `ssn`, `ipv4`, `ipv6`, `jwt`, `api_key`, `private_key`);
  for `non_pii`, the look-alike category (`order_number`, `timestamp`,
  `date`, `version`, `uuid`, `hex_id`, `price`, `zip_code`, `isbn`,
  `tracking_number`, `free_text`, `file_name`, `coordinates`, `quantity`,
  `reference`);
* `locale`: the Faker locale it came from;
* `text`: the cell value: the entity inside a short sentence, a JSON snippet
  or alone;
* `value`: the exact substring of `text` that must be masked (`pii`), or the
  look-alike itself (`non_pii`).

plugins/data-masking/tests/accuracy.rs runs the real plugin over every
`text` and prints precision and recall per entity.
"""

import base64
import calendar
import datetime
import ipaddress
import json
import os
import random
import string
import uuid

from faker import Faker

SEED = 20250117
# Fixed, so that nothing depends on today's date.
START = datetime.datetime(2012, 1, 1)
END = datetime.datetime(2026, 1, 1)
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES"]

# Sentences the values are put in, per language. None of them holds an
# entity, a digit run or an '@' of its own.
CONTEXTS = {
    "en": ["{}", "Contact: {}", "Please use {} for the refund.", "Customer note ({}) verified",
           '{{"value": "{}"}}', "old value was {}, updated"],
    "de": ["{}", "Kontakt: {}", "Bitte {} verwenden.", "Notiz: {} (geprüft)"],
    "fr": ["{}", "Contact : {}", "Merci d'utiliser {}.", "Note client : {}"],
    "nl": ["{}", "Contact: {}", "Neem contact op via {}.", "Notitie: {}"],
    "es": ["{}", "Contacto: {}", "Por favor use {} para el pago.", "Nota: {}"],
}

rng = random.Random(SEED)


def faker(locale):
    f = Faker(locale)
    f.seed_instance(SEED + LOCALES.index(locale) if locale in LOCALES else SEED)
    return f


FAKERS = {loc: faker(loc) for loc in LOCALES}


def context(locale, value):
    template = rng.choice(CONTEXTS[locale[:2]])
    if template.startswith("{{") and '"' in value:
        template = "{}"
    return template.format(value)


def alnum(n, alphabet=string.ascii_letters + string.digits):
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------- PII

def email(f):
    kind = rng.random()
    if kind < 0.4:
        value = f.email()
    elif kind < 0.6:
        value = f.free_email()
    elif kind < 0.8:
        value = f.company_email()
    else:
        user = f.user_name()
        domain = f.domain_name()
        value = rng.choice([
            f"{user}+{rng.choice(['news', 'billing', 'x'])}@{domain}",
            f"{f.first_name().lower()}.{f.last_name().lower().replace(' ', '')}@mail.{domain}",
            f"{user.upper()}@{domain.upper()}",
            f"{user}{rng.randint(1, 99)}@{domain}",
        ])
    return value


def phone(f):
    return f.phone_number()


CARD_TYPES = ["amex", "diners", "discover", "jcb15", "jcb16", "maestro", "mastercard", "visa13",
              "visa16", "visa19"]


def card(f):
    number = f.credit_card_number(rng.choice(CARD_TYPES))
    style = rng.random()
    if style < 0.4:
        return number
    sep = " " if style < 0.8 else "-"
    if len(number) == 15 and number[:2] in ("34", "37"):
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i:i + 4] for i in range(0, len(number), 4)]
    return sep.join(groups)


def iban(f):
    value = f.iban()
    if rng.random() < 0.5:
        value = " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def ssn(f):
    value = FAKERS["en_US"].ssn()
    if rng.random() < 0.2:
        value = value.replace("-", " ")
    return value


def ipv4(f):
    kind = rng.random()
    if kind < 0.5:
        return f.ipv4_public()
    if kind < 0.8:
        return f.ipv4_private()
    return f.ipv4(network=True) if rng.random() < 0.5 else f.ipv4()


def ipv6(f):
    value = f.ipv6()
    kind = rng.random()
    if kind < 0.3:
        return str(ipaddress.IPv6Address(value))  # compressed
    if kind < 0.4:
        return "fe80::" + ":".join(f"{rng.randrange(65536):x}" for _ in range(4))
    if kind < 0.5:
        return f"::ffff:{f.ipv4()}"
    return value


def jwt(f):
    header = {"alg": rng.choice(["HS256", "RS256", "ES256", "HS512"]), "typ": "JWT"}
    if rng.random() < 0.3:
        header["kid"] = alnum(8)
    payload = {"sub": str(rng.randint(1, 10**9)), "name": f.name(), "email": f.email(),
               "iat": rng.randint(1_600_000_000, 1_760_000_000)}
    sig_len = {"HS256": 32, "RS256": 256, "ES256": 64, "HS512": 64}[header["alg"]]
    header_json = json.dumps(header, separators=(",", ":"))
    payload_json = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return ".".join([b64url(header_json.encode()), b64url(payload_json.encode()),
                     b64url(bytes(rng.randrange(256) for _ in range(sig_len)))])


def api_key(f):
    """(text, value): some keys are found by their context, not their shape."""
    upper32 = string.ascii_uppercase + "234567"
    vendor = rng.choice([
        lambda: "AKIA" + alnum(16, upper32),
        lambda: "ASIA" + alnum(16, upper32),
        lambda: "ghp_" + alnum(36),
        lambda: "github_pat_" + alnum(22) + "_" + alnum(59),
        lambda: "glpat-" + alnum(20, string.ascii_letters + string.digits + "_-"),
        lambda: f"xoxb-{rng.randint(10**11, 10**12 - 1)}-{rng.randint(10**12, 10**13 - 1)}-{alnum(24)}",
        lambda: "sk_live_" + alnum(24),
        lambda: "pk_test_" + alnum(24),
        lambda: "AIza" + alnum(35, string.ascii_letters + string.digits + "_-"),
        lambda: "npm_" + alnum(36),
        lambda: "sk-proj-" + alnum(48, string.ascii_letters + string.digits + "_-"),
        lambda: "hf_" + alnum(34),
    ])
    if rng.random() < 0.7:
        return None, vendor()
    secret = rng.choice([alnum(32), alnum(40), uuid.UUID(int=rng.getrandbits(128)).hex,
                         base64.b64encode(bytes(rng.randrange(256) for _ in range(30))).decode()])
    if not any(c.isdigit() for c in secret):
        secret = secret[:-1] + "7"
    name = rng.choice(["api_key", "API_KEY", "apiKey", "client_secret", "SECRET_TOKEN", "token",
                       "access_token", "password", "auth_token", "x-api-key"])
    text = rng.choice([
        f"{name}={secret}",
        f"{name}: {secret}",
        f'{{"{name}": "{secret}"}}',
        f"export {name.upper()}='{secret}'",
        f"Authorization: Bearer {secret}",
    ])
    return text, secret


def private_key(f):
    label = rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY",
                        "ENCRYPTED PRIVATE KEY"])
    body = base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.choice([48, 96, 180])))).decode()
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----"


PII = [
    # entity, generator, count, locales
    ("email", email, 500, LOCALES),
    ("phone", phone, 480, LOCALES),
    ("card", card, 500, LOCALES),
    ("iban", iban, 480, LOCALES),
    ("ssn", ssn, 400, ["en_US"]),
    ("ipv4", ipv4, 200, LOCALES),
    ("ipv6", ipv6, 200, LOCALES),
    ("jwt", jwt, 100, LOCALES),
    ("api_key", api_key, 150, ["en_US"]),
    ("private_key", private_key, 60, ["en_US"]),
]

# ---------------------------------------------------------------- look-alikes


def order_number(f):
    return rng.choice([
        lambda: f"ORD-{rng.randint(2015, 2025)}-{rng.randint(0, 999999):06d}",
        lambda: f"#{rng.randint(100000, 999999)}",
        lambda: f"SO{rng.randint(10**7, 10**8 - 1)}",
        lambda: f"PO-45000{rng.randint(0, 99999):05d}",
        lambda: f"{rng.randint(100, 999)}-{rng.randint(10**6, 10**7 - 1)}-{rng.randint(10**6, 10**7 - 1)}",
        lambda: f"Order {rng.randint(10**5, 10**8)}",
        lambda: str(rng.randint(10**5, 10**9)),
        lambda: f"INV-{rng.randint(1, 99999):05d}-{rng.choice(string.ascii_uppercase)}",
        lambda: f"{rng.randint(10**11, 10**12 - 1)}",
    ])()


def timestamp(f):
    dt = f.date_time_between(start_date=START, end_date=END)
    epoch = calendar.timegm(dt.timetuple())
    return rng.choice([
        lambda: dt.isoformat(),
        lambda: dt.isoformat() + "Z",
        lambda: dt.strftime("%Y-%m-%d %H:%M:%S"),
        lambda: dt.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "+00",
        lambda: str(epoch),
        lambda: str(epoch * 1000 + dt.microsecond // 1000),
        lambda: dt.strftime("%a, %d %b %Y %H:%M:%S +0000"),
        lambda: dt.strftime("%d/%m/%Y %H:%M"),
        lambda: dt.strftime("%d.%m.%Y %H:%M:%S"),
        lambda: dt.strftime("%Y%m%d%H%M%S"),
    ])()


def date(f):
    d = f.date_between(start_date=START, end_date=END)
    return rng.choice([d.isoformat(), d.strftime("%d.%m.%Y"), d.strftime("%m/%d/%Y"),
                       d.strftime("%d/%m/%Y"), d.strftime("%d %B %Y"), d.strftime("%Y%m%d"),
                       d.strftime("%d-%m-%Y")])


def version(f):
    a, b, c = rng.randint(0, 20), rng.randint(0, 40), rng.randint(0, 200)
    return rng.choice([
        f"{a}.{b}.{c}", f"v{a}.{b}.{c}", f"{a}.{b}", f"{a}.{b}.{c}-beta.{rng.randint(1, 9)}",
        f"{a}.{b}.{c}-rc.1+build.{rng.randint(1, 999)}", f"10.0.{rng.randint(10000, 26000)}.{rng.randint(1, 3000)}",
        f"Python {rng.randint(2, 3)}.{b}.{c}", f"lodash@{a}.{b}.{c}", f"release-{a}.{b}",
        f"{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(1000, 9999)}.{rng.randint(1000, 99999)}",
    ])


def uuid_value(f):
    u = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return rng.choice([u, u.upper(), u.replace("-", ""), "{" + u + "}"])


def hex_id(f):
    return rng.choice([f.sha1(), f.md5(), f.sha256(), f.sha1()[:7], f.sha1()[:24],
                       "0x" + f.md5()[:16]])


def price(f):
    return rng.choice([
        f.pricetag(), f"${rng.randint(1, 99999):,}.{rng.randint(0, 99):02d}",
        f"€ {rng.randint(1, 9999)},{rng.randint(0, 99):02d}",
        f"{rng.randint(1, 999)} {rng.randint(100, 999)},{rng.randint(0, 99):02d} €",
        f"USD {rng.randint(1000, 10**7):,}", f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d} GBP",
    ])


def zip_code(f):
    if f is FAKERS["en_US"] and rng.random() < 0.4:
        return f.zipcode_plus4()
    return f.postcode()


def isbn(f):
    value = rng.choice([f.isbn13(), f.isbn10()])
    return value.replace("-", "") if rng.random() < 0.3 else value


def tracking_number(f):
    return rng.choice([
        lambda: "1Z" + alnum(6, string.ascii_uppercase + string.digits) + f"{rng.randint(10**9, 10**10 - 1)}",
        lambda: "9400" + "".join(str(rng.randint(0, 9)) for _ in range(18)),
        lambda: " ".join(["9400"] + ["".join(str(rng.randint(0, 9)) for _ in range(4)) for _ in range(4)] + [f"{rng.randint(10, 99)}"]),
        lambda: str(rng.randint(10**11, 10**12 - 1)),
        lambda: str(rng.randint(10**14, 10**15 - 1)),
        lambda: str(rng.randint(10**9, 10**10 - 1)),
        lambda: f"{rng.choice(['RR', 'LX', 'CP', 'EE'])}{rng.randint(10**8, 10**9 - 1)}{rng.choice(['GB', 'DE', 'NL', 'FR'])}",
        lambda: f"JJD{rng.randint(10**17, 10**18 - 1)}",
    ])()


def free_text(f):
    return rng.choice([f.sentence(), f.paragraph(nb_sentences=2), f.catch_phrase(), f.company(),
                       f.job(), f.bs() if hasattr(f, "bs") else f.sentence()])


def file_name(f):
    return rng.choice([
        f"logo@{rng.randint(2, 3)}x.png", f"icon@2x.{rng.choice(['webp', 'jpg', 'svg'])}",
        f"report_{f.date_between(START, END).isoformat()}.pdf", f.file_name(), f.file_path(depth=rng.randint(1, 3)),
        f"backup-{f.date_between(START, END).strftime('%Y%m%d')}-{rng.randint(100000, 999999)}.tar.gz",
    ])


def coordinates(f):
    return rng.choice([f"{f.latitude()}, {f.longitude()}", f"{f.latitude()},{f.longitude()}",
                       f"POINT({f.longitude()} {f.latitude()})"])


def quantity(f):
    return rng.choice([f"{rng.randint(1, 100)}.{rng.randint(0, 9)}%", f"{rng.randint(1, 10**6):,} MB",
                       f"{rng.uniform(0, 1000):.4f}", f"{rng.randint(1, 500)} kg",
                       f"{rng.randint(1, 10**6)} rows in {rng.randint(1, 999)} ms",
                       f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"])


def reference(f):
    return rng.choice([
        f"Ticket #{rng.randint(1000, 99999)}", f"Room {rng.randint(100, 1500)}",
        f"SKU-{alnum(3, string.ascii_uppercase)}-{rng.randint(1000, 9999)}",
        f"refs/heads/feature-{rng.randint(1, 9999)}", f"build {rng.randint(1, 99999)}",
        f"CVE-{rng.randint(2000, 2025)}-{rng.randint(1000, 99999)}", f"RFC {rng.randint(100, 9999)}",
        f"{f.ean13()}", f"{f.ean8()}", f"@{f.user_name()}", f"{f.user_name()}@localhost",
        f"00:{rng.randint(10, 99)}:{alnum(2, '0123456789ABCDEF')}:{alnum(2, '0123456789ABCDEF')}:{alnum(2, '0123456789ABCDEF')}:{alnum(2, '0123456789ABCDEF')}",
    ])


NON_PII = [
    ("order_number", order_number), ("timestamp", timestamp), ("date", date), ("version", version),
    ("uuid", uuid_value), ("hex_id", hex_id), ("price", price), ("zip_code", zip_code),
    ("isbn", isbn), ("tracking_number", tracking_number), ("free_text", free_text),
    ("file_name", file_name), ("coordinates", coordinates), ("quantity", quantity),
    ("reference", reference),
]
NON_PII_PER_CATEGORY = 300


def main():
    records = []
    for entity, generate, count, locales in PII:
        for i in range(count):
            locale = locales[i % len(locales)]
            result = generate(FAKERS[locale])
            text, value = result if isinstance(result, tuple) else (None, result)
            if text is None:
                if entity != "private_key":
                    text = context(locale, value)
                else:
                    shape = rng.random()
                    if shape < 0.3:
                        # As stored in JSON: the newlines are escapes.
                        value = json.dumps(value)[1:-1]
                        text = '{"pem": "' + value + '"}'
                    else:
                        text = value if shape < 0.6 else f"key:\n{value}\n"

            records.append({"kind": "pii", "entity": entity, "locale": locale, "text": text,
                            "value": value})
    for category, generate in NON_PII:
        for i in range(NON_PII_PER_CATEGORY):
            locale = LOCALES[i % len(LOCALES)]
            value = generate(FAKERS[locale])
            text = value if rng.random() < 0.6 else context(locale, value)
            records.append({"kind": "non_pii", "entity": category, "locale": locale, "text": text,
                            "value": value})
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dataset.jsonl")
    with open(out, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"wrote {len(records)} records to {out}")


if __name__ == "__main__":
    main()
