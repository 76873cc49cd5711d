"""Countries, default sales regions and country aliases (reach2revenue.reference.countries)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pycountry
import pytest

from reach2revenue.reference import countries as countries_module
from reach2revenue.reference.countries import (
    ALIAS_OVERRIDES_SEED,
    ALIASES_SEED,
    COUNTRIES_SEED,
    NOT_ALIASES,
    REGION_OVERRIDES_SEED,
    REGIONS,
    UNASSIGNED_REGION,
    Country,
    all_countries,
    build_aliases,
    default_region,
    load_aliases,
    load_countries,
    normalize_alias,
    region_of,
    write_seeds,
)
from reach2revenue.settings import REPO_ROOT

NORMALIZE_MACRO = REPO_ROOT / "dbt_project" / "macros" / "normalize_country_alias.sql"


@pytest.fixture(scope="module")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds as write_seeds makes them now, in a directory of their own."""
    directory = tmp_path_factory.mktemp("generated-seeds")
    write_seeds(directory)
    return directory


@pytest.fixture(scope="module")
def default_countries() -> dict[str, Country]:
    """The default policy, without anything users put in the override seeds."""
    return {country.code: country for country in all_countries()}


@pytest.fixture(scope="module")
def generated_aliases(generated_dir: Path) -> dict[str, str]:
    """The generated alias table alone (the override seeds there are empty)."""
    return load_aliases(generated_dir)


# --- the committed seeds ------------------------------------------------------------------


@pytest.mark.parametrize("seed", [COUNTRIES_SEED, ALIASES_SEED], ids=lambda path: path.name)
def test_committed_seed_is_what_the_generator_makes_now(generated_dir: Path, seed: Path) -> None:
    # A pycountry, babel or country_converter upgrade that changes the data fails here;
    # regenerate with `python -m reach2revenue.reference.countries` and review the diff.
    assert seed.read_bytes() == (generated_dir / seed.name).read_bytes()


@pytest.mark.parametrize(
    ("seed", "header"),
    [
        (REGION_OVERRIDES_SEED, "country_code,region\n"),
        (ALIAS_OVERRIDES_SEED, "country_alias,country_code\n"),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else "",
)
def test_override_seeds_exist_with_their_header(
    generated_dir: Path, seed: Path, header: str
) -> None:
    # The committed files may hold users' rows; only their header is the contract.
    assert seed.read_text(encoding="utf-8").startswith(header)
    assert (generated_dir / seed.name).read_text(encoding="utf-8") == header


def test_write_seeds_keeps_existing_override_files(tmp_path: Path) -> None:
    user_rows = "country_alias,country_code\nHolland,NL\n"
    (tmp_path / ALIAS_OVERRIDES_SEED.name).write_text(user_rows, encoding="utf-8")
    write_seeds(tmp_path)
    assert (tmp_path / ALIAS_OVERRIDES_SEED.name).read_text(encoding="utf-8") == user_rows


def test_seed_columns_keep_what_dbt_models_read() -> None:
    countries_header = COUNTRIES_SEED.read_text(encoding="utf-8").splitlines()[0]
    aliases_header = ALIASES_SEED.read_text(encoding="utf-8").splitlines()[0]
    assert countries_header == "country_code,country_name,alpha3_code,un_subregion,region"
    assert aliases_header == "country_alias,country_code,alias_source"


# --- countries and regions ----------------------------------------------------------------


def test_every_iso_country_has_exactly_one_row(generated_dir: Path) -> None:
    rows = (generated_dir / COUNTRIES_SEED.name).read_text(encoding="utf-8").splitlines()[1:]
    codes = Counter(row.split(",", 1)[0] for row in rows)
    assert set(codes) == {entry.alpha_2 for entry in pycountry.countries}
    assert len(codes) == len(pycountry.countries) == 249
    assert set(codes.values()) == {1}


def test_regions_are_exactly_the_nine_sales_regions(default_countries: dict[str, Country]) -> None:
    assert REGIONS == (
        "North America",
        "Latin America",
        "UK & Ireland",
        "DACH",
        "Nordics",
        "Western Europe",
        "Eastern Europe",
        "Middle East & Africa",
        "APAC",
    )
    assert {country.region for country in default_countries.values()} == set(REGIONS)


def test_load_countries_reads_back_the_generated_seed(
    generated_dir: Path, default_countries: dict[str, Country]
) -> None:
    assert load_countries(generated_dir) == default_countries


@pytest.mark.parametrize(
    ("region", "codes"),
    [
        ("Eastern Europe", ["PL", "CZ", "HU", "RO", "BG", "EE", "LV", "LT", "HR", "RS", "SI"]),
        ("Western Europe", ["FR", "ES", "IT", "PT", "NL", "BE", "LU", "GR", "CY"]),
        ("DACH", ["DE", "AT", "CH", "LI"]),
        ("UK & Ireland", ["GB", "IE", "IM", "JE", "GG"]),
        ("Nordics", ["SE", "NO", "DK", "FI", "IS"]),
        ("North America", ["US", "CA"]),
        ("Latin America", ["BR", "MX", "AR", "CL", "CO", "PR"]),
        ("APAC", ["IN", "JP", "AU", "CN", "SG", "NZ", "KR"]),
        ("Middle East & Africa", ["ZA", "NG", "AE", "SA", "EG", "IL", "TR", "KE"]),
    ],
)
def test_default_region_of_known_countries(
    default_countries: dict[str, Country], region: str, codes: list[str]
) -> None:
    assert {code: default_countries[code].region for code in codes} == dict.fromkeys(codes, region)


def test_default_region_refuses_an_unknown_un_subregion() -> None:
    with pytest.raises(ValueError, match="Outer Space"):
        default_region("ZZ", "Outer Space")


def test_country_exceptions_win_over_the_un_subregion() -> None:
    assert default_region("DE", "Western Europe") == "DACH"
    assert default_region("CY", "Western Asia") == "Western Europe"
    assert default_region("FR", "Western Europe") == "Western Europe"


def test_region_of_unknown_code_is_unassigned(default_countries: dict[str, Country]) -> None:
    assert region_of("PL", default_countries) == "Eastern Europe"
    assert region_of("QQ", default_countries) == UNASSIGNED_REGION == "Unassigned"
    assert region_of(None, default_countries) == UNASSIGNED_REGION


# --- normalisation ------------------------------------------------------------------------


def _sql_normalize(values: Iterable[str]) -> dict[str, str | None]:
    """What the dbt macro's DuckDB expression makes of each value."""
    macro = NORMALIZE_MACRO.read_text(encoding="utf-8")
    body = re.search(
        r"macro default__normalize_country_alias\(column\) -%}(.*?){%- endmacro %}",
        macro,
        re.DOTALL,
    )
    assert body is not None, "default__normalize_country_alias not found"
    expression = body.group(1).strip().replace("{{ column }}", "value")
    connection = duckdb.connect()
    connection.execute("create table inputs (value varchar)")
    connection.executemany("insert into inputs values (?)", [[value] for value in values])
    rows = connection.execute(f"select value, {expression} from inputs").fetchall()
    return dict(rows)


MESSY_INPUTS = [
    " GERMANY ",
    "United\tKingdom",
    "Vereinigtes   Königreich",
    "united\n\nstates",
    "\u00a0Österreich\u00a0",
    "\u3000Japan",
    "ÉTATS-UNIS",
    "",
    "   ",
    "de",
]


def test_normalize_alias_does_what_the_dbt_macro_does() -> None:
    assert {value: normalize_alias(value) for value in MESSY_INPUTS} == _sql_normalize(MESSY_INPUTS)
    assert normalize_alias(" GERMANY ") == "germany"
    assert normalize_alias("United\tKingdom") == "united kingdom"
    assert normalize_alias("   ") is None


def test_every_generated_alias_is_its_own_sql_lookup_key(
    generated_aliases: dict[str, str],
) -> None:
    # dbt normalises free text with the SQL macro, so an alias the macro would change can
    # never be matched.
    sql_keys = _sql_normalize(generated_aliases)
    assert [alias for alias, key in sql_keys.items() if key != alias] == []
    assert [alias for alias in generated_aliases if normalize_alias(alias) != alias] == []


# --- aliases ------------------------------------------------------------------------------

# As people type them, in English, German, French, Spanish, Italian, Portuguese, Dutch,
# Polish, Swedish, Danish, Norwegian, Finnish, Czech, Hungarian and Romanian.
SPELLINGS: list[tuple[str, str]] = [
    # Germany
    ("Deutschland", "DE"),
    ("Allemagne", "DE"),
    ("Alemania", "DE"),
    ("Niemcy", "DE"),
    ("Germania", "DE"),
    ("Alemanha", "DE"),
    ("Duitsland", "DE"),
    ("Tyskland", "DE"),
    ("Saksa", "DE"),
    ("Německo", "DE"),
    ("Németország", "DE"),
    (" GERMANY ", "DE"),
    ("DE", "DE"),
    ("deu", "DE"),
    ("Federal Republic of Germany", "DE"),
    # Poland
    ("Polska", "PL"),
    ("Pologne", "PL"),
    ("Polen", "PL"),
    ("Polonia", "PL"),
    ("Polônia", "PL"),
    ("Puola", "PL"),
    ("Lengyelország", "PL"),
    # Spain
    ("España", "ES"),
    ("Espana", "ES"),
    ("Espagne", "ES"),
    ("Spanien", "ES"),
    ("Spagna", "ES"),
    ("Espanha", "ES"),
    ("Spanje", "ES"),
    ("Hiszpania", "ES"),
    ("Španělsko", "ES"),
    ("Spain", "ES"),
    # Austria
    ("Österreich", "AT"),
    ("osterreich", "AT"),
    ("Autriche", "AT"),
    ("Austria", "AT"),
    ("Oostenrijk", "AT"),
    ("Itävalta", "AT"),
    # Switzerland
    ("Schweiz", "CH"),
    ("Suisse", "CH"),
    ("Svizzera", "CH"),
    ("Suiza", "CH"),
    ("Suíça", "CH"),
    ("Zwitserland", "CH"),
    ("Szwajcaria", "CH"),
    ("Svájc", "CH"),
    # United States
    ("United States", "US"),
    ("USA", "US"),
    ("us", "US"),
    ("United States of America", "US"),
    ("Vereinigte Staaten", "US"),
    ("États-Unis", "US"),
    ("Etats-Unis", "US"),
    ("Estados Unidos", "US"),
    ("Stati Uniti", "US"),
    ("Verenigde Staten", "US"),
    ("Stany Zjednoczone", "US"),
    ("Egyesült Államok", "US"),
    # United Kingdom
    ("United Kingdom", "GB"),
    ("GB", "GB"),
    ("Royaume-Uni", "GB"),
    ("Vereinigtes Königreich", "GB"),
    ("Vereinigtes  Konigreich", "GB"),
    ("Reino Unido", "GB"),
    ("Wielka Brytania", "GB"),
    ("Regno Unito", "GB"),
    ("Verenigd Koninkrijk", "GB"),
    ("Storbritannien", "GB"),
    ("Storbritannia", "GB"),
    ("Iso-Britannia", "GB"),
    # Brazil, India, Japan
    ("Brasil", "BR"),
    ("Brésil", "BR"),
    ("Brasilien", "BR"),
    ("Brazylia", "BR"),
    ("Indien", "IN"),
    ("Inde", "IN"),
    ("India", "IN"),
    ("Japon", "JP"),
    ("Giappone", "JP"),
    ("Japonia", "JP"),
    ("Japão", "JP"),
    ("Japani", "JP"),
    # Nordics
    ("Sverige", "SE"),
    ("Suède", "SE"),
    ("Schweden", "SE"),
    ("Suecia", "SE"),
    ("Szwecja", "SE"),
    ("Norge", "NO"),
    ("Norwegen", "NO"),
    ("Norvège", "NO"),
    ("Noruega", "NO"),
    ("Danmark", "DK"),
    ("Dänemark", "DK"),
    ("Dinamarca", "DK"),
    ("Suomi", "FI"),
    ("Finnland", "FI"),
    ("Finlandia", "FI"),
    # Central and Eastern Europe
    ("Česko", "CZ"),
    ("Cesko", "CZ"),
    ("Czech Republic", "CZ"),
    ("Czechia", "CZ"),
    ("Tschechien", "CZ"),
    ("Tchéquie", "CZ"),
    ("Magyarország", "HU"),
    ("Ungarn", "HU"),
    ("Hongrie", "HU"),
    ("Węgry", "HU"),
    ("România", "RO"),
    ("Romania", "RO"),
    ("Rumänien", "RO"),
    ("Roumanie", "RO"),
    ("Bułgaria", "BG"),
    ("Chorwacja", "HR"),
    ("Estland", "EE"),
    # Benelux, France, Italy, Portugal, Ireland
    ("Nederland", "NL"),
    ("Pays-Bas", "NL"),
    ("Niederlande", "NL"),
    ("Países Bajos", "NL"),
    ("Paesi Bassi", "NL"),
    ("Holandia", "NL"),
    ("Hollandia", "NL"),
    ("België", "BE"),
    ("Belgique", "BE"),
    ("Belgien", "BE"),
    ("Frankreich", "FR"),
    ("Francja", "FR"),
    ("Frankrijk", "FR"),
    ("Włochy", "IT"),
    ("Italien", "IT"),
    ("Italia", "IT"),
    ("Portugalia", "PT"),
    ("Irland", "IE"),
    ("Irlande", "IE"),
    # Elsewhere
    ("Mexiko", "MX"),
    ("México", "MX"),
    ("Südafrika", "ZA"),
    ("Afrique du Sud", "ZA"),
    ("Vereinigte Arabische Emirate", "AE"),
    ("Émirats arabes unis", "AE"),
    ("Saudi-Arabien", "SA"),
    ("Arabie saoudite", "SA"),
    ("Türkei", "TR"),
    ("Türkiye", "TR"),
    ("Russland", "RU"),
    ("Südkorea", "KR"),
    ("South Korea", "KR"),
    ("Neuseeland", "NZ"),
    ("Côte d’Ivoire", "CI"),
    ("Cote d'Ivoire", "CI"),
]


def test_spelling_table_is_large_and_unique() -> None:
    spellings = [spelling for spelling, _ in SPELLINGS]
    assert len(spellings) >= 100
    assert len(set(spellings)) == len(spellings)


@pytest.mark.parametrize(("spelling", "code"), SPELLINGS)
def test_spelling_maps_to_its_country(spelling: str, code: str) -> None:
    key = normalize_alias(spelling)
    assert key is not None
    assert load_aliases().get(key) == code


# Common spellings that none of the data sources holds. They are not added to the generator
# (it has no hand lists); a team that meets them adds them to country_alias_overrides.csv.
NOT_IN_THE_DATA = [
    "Holland",
    "UK",
    "U.K.",
    "England",
    "Scotland",
    "Great Britain",
    "U.S.A.",
    "America",
    "The Netherlands",
    "Turkey",
    "Ivory Coast",
    "Burma",
    "Holanda",
    "Hrvatska",
]


@pytest.mark.parametrize("spelling", NOT_IN_THE_DATA)
def test_spelling_missing_from_the_data_lands_nowhere(
    generated_aliases: dict[str, str], spelling: str
) -> None:
    key = normalize_alias(spelling)
    assert key is not None
    assert generated_aliases.get(key) is None


def test_iso_alpha2_codes_map_to_their_own_country(generated_aliases: dict[str, str]) -> None:
    for entry in pycountry.countries:
        assert generated_aliases[entry.alpha_2.lower()] == entry.alpha_2
        assert generated_aliases[entry.alpha_3.lower()] == entry.alpha_2


def test_placeholders_are_never_aliases(generated_aliases: dict[str, str]) -> None:
    assert "unknown" in NOT_ALIASES
    assert not NOT_ALIASES & set(generated_aliases)
    assert "unknown" not in load_aliases()
    assert "" not in load_aliases()


def test_conflicts_resolve_by_source_priority_and_ties_drop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def spellings(_: Iterable[Country]) -> Iterable[tuple[str, str, str]]:
        yield "AA", "iso_alpha2", "AA"
        yield "BB", "cldr_en", "aa"  # a name equal to another country's code loses
        yield "AA", "cldr_de", "Foo"
        yield "BB", "cldr_fr", "foo"  # German is listed before French
        yield "AA", "cldr_pl", "Bar"
        yield "BB", "cldr_pl", "bar"  # same priority, two countries: dropped
        yield "AA", "cldr_ro", "Čaj"  # keyboard form "caj"
        yield "BB", "cldr_ro", "Caj"  # an exact name beats a keyboard form
        yield "AA", "cldr_en", "Unknown"  # never an alias

    monkeypatch.setattr(countries_module, "_spellings", spellings)
    assert build_aliases([]) == {"aa": "AA", "foo": "AA", "čaj": "AA", "caj": "BB"}


def test_overrides_are_applied_by_the_loaders(generated_dir: Path, tmp_path: Path) -> None:
    for seed in (COUNTRIES_SEED, ALIASES_SEED):
        shutil.copy(generated_dir / seed.name, tmp_path / seed.name)
    (tmp_path / ALIAS_OVERRIDES_SEED.name).write_text(
        "country_alias,country_code\nholland,NL\n  Great  Britain , gb\npolska,DE\n",
        encoding="utf-8",
    )
    (tmp_path / REGION_OVERRIDES_SEED.name).write_text(
        "country_code,region\nPL,CEE\n", encoding="utf-8"
    )

    aliases = load_aliases(tmp_path)
    countries = load_countries(tmp_path)

    assert aliases["holland"] == "NL"
    assert aliases["great britain"] == "GB"
    assert aliases["polska"] == "DE"  # an override replaces a generated alias
    assert aliases["deutschland"] == "DE"
    assert countries["PL"].region == "CEE"
    assert region_of("PL", countries) == "CEE"
    assert countries["CZ"].region == "Eastern Europe"


@pytest.mark.parametrize(
    ("seed", "content"),
    [
        (REGION_OVERRIDES_SEED, "country_code,region\nXX,CEE\n"),
        (REGION_OVERRIDES_SEED, "country_code,region\nPL,\n"),
        (ALIAS_OVERRIDES_SEED, "country_alias,country_code\nholland,Netherlands\n"),
        (ALIAS_OVERRIDES_SEED, "country_alias,country_code\n ,NL\n"),
    ],
)
def test_broken_overrides_are_reported(
    generated_dir: Path, tmp_path: Path, seed: Path, content: str
) -> None:
    for generated in (COUNTRIES_SEED, ALIASES_SEED):
        shutil.copy(generated_dir / generated.name, tmp_path / generated.name)
    (tmp_path / seed.name).write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=seed.name):
        load_countries(tmp_path)
        load_aliases(tmp_path)


def test_load_path_needs_no_reference_packages() -> None:
    # The world generator and the pipeline load the seeds often; pycountry, babel and
    # country_converter (pandas) are only for regenerating them.
    code = (
        "import sys\n"
        "from reach2revenue.reference.countries import load_aliases, load_countries\n"
        "assert len(load_countries()) == 249 and load_aliases()\n"
        "heavy = {'pycountry', 'babel', 'country_converter', 'pandas'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
