"""Which email domains say little about an employer: free mail anyone can open, and disposable
addresses. No I/O: fixed lists and the `disposable-email-domains` blocklist."""

from __future__ import annotations

from disposable_email_domains import blocklist as disposable_domains

# Free-mail: addresses anyone can open, so they say little about an employer. Exact domains...
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "ymail.com",
        "rocketmail.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "web.de",
        "t-online.de",
        "freenet.de",
        "mail.ru",
        "inbox.ru",
        "list.ru",
        "bk.ru",
        "rambler.ru",
        "proton.me",
        "protonmail.com",
        "protonmail.ch",
        "pm.me",
        "zoho.com",
        "zohomail.com",
        "qq.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "naver.com",
        "daum.net",
        "hanmail.net",
        "rediffmail.com",
        "mail.com",
        "fastmail.com",
        "tutanota.com",
        "tuta.io",
        "hushmail.com",
        "seznam.cz",
        "libero.it",
        "wp.pl",
        "o2.pl",
        "interia.pl",
        "laposte.net",
        "free.fr",
        "orange.fr",
        "wanadoo.fr",
    }
)
# ...and providers that run the same service under many country domains (yahoo.co.uk, gmx.at).
FREE_MAIL_PROVIDERS = frozenset({"yahoo", "hotmail", "outlook", "live", "aol", "gmx", "yandex"})
_COUNTRY_SECOND_LEVELS = frozenset({"co", "com", "net", "org", "ne", "or"})


def email_flags(email: str) -> dict[str, bool]:
    domain = _ascii_domain(email)
    return {"free_mail": _is_free_mail(domain), "disposable_email": _is_disposable(domain)}


def _ascii_domain(email: str) -> str:
    domain = email.rpartition("@")[2].lower()
    try:  # the domain lists are ASCII; Python's IDNA 2003 codec is close enough for a lookup
        return domain.encode("idna").decode()
    except UnicodeError:
        return domain


def _is_free_mail(domain: str) -> bool:
    provider, _, suffix = domain.partition(".")
    labels = suffix.split(".")
    by_country = len(labels) == 1 or (len(labels) == 2 and labels[0] in _COUNTRY_SECOND_LEVELS)
    return domain in FREE_MAIL_DOMAINS or (provider in FREE_MAIL_PROVIDERS and by_country)


def _is_disposable(domain: str) -> bool:
    labels = domain.split(".")  # a subdomain of a disposable domain is disposable too
    return any(".".join(labels[i:]) in disposable_domains for i in range(len(labels) - 1))
