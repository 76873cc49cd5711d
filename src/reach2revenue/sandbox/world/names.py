"""People's and companies' names by country, for the simulated CRMs (HubSpot, Salesforce).

Names follow the official languages of a country (CLDR via babel), so a contact in Poland
is called like one; emails are derived from them. Demo content, not reference data.
"""

from __future__ import annotations

import unicodedata
from functools import cache

NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "de": (
        ("Anna", "Lukas", "Lena", "Jonas", "Sophie", "Felix", "Marie", "Paul", "Laura"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Huber"),
    ),
    "fr": (
        ("Camille", "Louis", "Léa", "Hugo", "Chloé", "Lucas", "Manon", "Jules", "Inès"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Lefèvre"),
    ),
    "nl": (
        ("Daan", "Emma", "Sem", "Julia", "Tess", "Bram", "Sanne", "Thijs", "Fleur"),
        ("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Peeters"),
    ),
    "es": (
        ("Lucía", "Hugo", "Martina", "Pablo", "Sofía", "Alejandro", "Carmen", "Javier"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez"),
    ),
    "it": (
        ("Giulia", "Francesco", "Sofia", "Alessandro", "Aurora", "Lorenzo", "Chiara"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"),
    ),
    "en": (
        ("Oliver", "Amelia", "Jack", "Isla", "Harry", "Olivia", "James", "Emily", "Noah"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Murphy", "O'Brien"),
    ),
    "ja": (
        ("Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto", "Sakura"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto"),
    ),
    "zh": (
        ("Wei Ling", "Jun Jie", "Hui Min", "Marcus", "Xin Yi", "Hao Ran", "Mei", "Jia Hui"),
        ("Tan", "Lim", "Lee", "Ng", "Wong", "Goh", "Chua", "Chen"),
    ),
    "pt": (
        ("Ana", "João", "Beatriz", "Pedro", "Mariana", "Gabriel", "Larissa", "Rafael"),
        ("Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Ferreira", "Almeida"),
    ),
    "pl": (
        ("Zofia", "Jakub", "Maja", "Kacper", "Hanna", "Szymon", "Julia", "Antoni"),
        ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński"),
    ),
    "nordic": (
        ("Elsa", "Oskar", "Freja", "William", "Astrid", "Emil", "Ingrid", "Aksel", "Aino"),
        ("Andersson", "Johansson", "Hansen", "Nielsen", "Larsen", "Korhonen", "Berg"),
    ),
    "cee": (
        ("Petra", "Tomáš", "Eszter", "Bence", "Ioana", "Andrei", "Elena", "Marek", "Ivana"),
        ("Novák", "Horváth", "Popescu", "Dvořák", "Nagy", "Ionescu", "Kovač", "Petrov"),
    ),
    "ar": (
        ("Omar", "Layla", "Ahmed", "Fatima", "Youssef", "Mariam", "Khalid", "Noor"),
        ("Al Mansouri", "Haddad", "Nasser", "Khalil", "Saleh", "Farouk", "Aziz"),
    ),
    "he": (
        ("Noa", "Itai", "Yael", "Omer", "Tamar", "Ariel", "Maya", "Eitan"),
        ("Cohen", "Levi", "Mizrahi", "Peretz", "Biton", "Friedman", "Avraham"),
    ),
    "tr": (
        ("Zeynep", "Mehmet", "Elif", "Mustafa", "Ayşe", "Emre", "Defne", "Can"),
        ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Aydın"),
    ),
    "hi": (
        ("Priya", "Arjun", "Ananya", "Rohan", "Diya", "Vikram", "Kavya", "Aditya"),
        ("Sharma", "Patel", "Gupta", "Singh", "Kumar", "Reddy", "Iyer", "Nair"),
    ),
    "ko": (
        ("Ji-woo", "Min-jun", "Seo-yeon", "Do-yun", "Ha-eun", "Ji-ho", "Su-bin"),
        ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Yoon"),
    ),
    "id": (
        ("Putri", "Budi", "Siti", "Agus", "Dewi", "Rizky", "Nurul", "Hafiz"),
        ("Santoso", "Wijaya", "Hidayat", "Rahman", "Ibrahim", "Lim", "Abdullah"),
    ),
    "ru": (
        ("Anastasia", "Dmitri", "Olena", "Ivan", "Daria", "Andriy", "Sofia", "Maxim"),
        ("Ivanov", "Shevchenko", "Smirnov", "Kovalenko", "Popov", "Bondarenko"),
    ),
}
#: Base language (CLDR) -> the name group people of that language are drawn from;
#: countries whose official languages have no group get English names.
_NAME_GROUP_OF_LANGUAGE = {
    "de": "de",
    "fr": "fr",
    "nl": "nl",
    "es": "es",
    "ca": "es",
    "it": "it",
    "en": "en",
    "ga": "en",
    "ja": "ja",
    "zh": "zh",
    "pt": "pt",
    "pl": "pl",
    **dict.fromkeys(("sv", "da", "nb", "nn", "no", "fi", "is", "fo"), "nordic"),
    **dict.fromkeys(
        ("cs", "sk", "hu", "ro", "sl", "hr", "bs", "sr", "bg", "mk", "sq", "et", "lv", "lt"),
        "cee",
    ),
    "ar": "ar",
    "he": "he",
    "tr": "tr",
    "hi": "hi",
    "ko": "ko",
    **dict.fromkeys(("id", "ms"), "id"),
    **dict.fromkeys(("ru", "uk", "be"), "ru"),
}
#: Legal-form suffix of a company name by name group; a few countries differ.
_COMPANY_SUFFIX_OF_GROUP = {
    "de": "GmbH",
    "fr": "SAS",
    "nl": "B.V.",
    "es": "S.L.",
    "it": "S.r.l.",
    "ja": "K.K.",
    "zh": "Co., Ltd.",
    "pt": "Ltda.",
    "pl": "Sp. z o.o.",
    "nordic": "AB",
    "cee": "s.r.o.",
    "tr": "A.Ş.",
    "ko": "Co., Ltd.",
    "id": "PT",
    "ru": "LLC",
    "ar": "LLC",
}
_COMPANY_SUFFIX_OF_COUNTRY = {
    "CH": "AG",
    "US": "Inc.",
    "CA": "Inc.",
    "AU": "Pty Ltd",
    "SG": "Pte. Ltd.",
    "IN": "Pvt. Ltd.",
}
COMPANY_WORDS = (
    "northwind",
    "bluepeak",
    "fjordline",
    "alpenlogik",
    "brightpath",
    "silverleaf",
    "ironbridge",
    "greenfield",
    "solara",
    "nexora",
    "kestrel",
    "meridian",
    "oakridge",
    "lumina",
    "vantage",
    "cobalt",
)


def ascii_name(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@cache
def name_groups(country_code: str) -> tuple[str, ...]:
    """Name groups of a country's official (or de facto) languages; English if none."""
    from babel.languages import get_official_languages

    languages = get_official_languages(country_code, de_facto=True)
    groups = [
        _NAME_GROUP_OF_LANGUAGE[base]
        for base in (language.split("_")[0] for language in languages)
        if base in _NAME_GROUP_OF_LANGUAGE
    ]
    return tuple(dict.fromkeys(groups)) or ("en",)


def company_suffix(country_code: str) -> str:
    return _COMPANY_SUFFIX_OF_COUNTRY.get(country_code) or _COMPANY_SUFFIX_OF_GROUP.get(
        name_groups(country_code)[0], "Ltd"
    )
