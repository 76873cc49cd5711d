"""Print the registered sources and their raw tables as a markdown table.

python -m reach2revenue.sources
"""

from __future__ import annotations

from reach2revenue.contracts import MergeRule, RawTable
from reach2revenue.sources import SOURCES

_RULES = {
    MergeRule.REPLACE_DAYS: "replace the ({scope}) days the batch's extractions cover",
    MergeRule.UPSERT_NEWEST: "upsert; never replace a row with an older {modified}",
    MergeRule.REPLACE_CHILDREN: "replace all rows of each {scope} in the batch",
    MergeRule.UPSERT: "upsert by key; the newest extraction wins",
    MergeRule.REPLACE_ALL: "the newest extraction replaces the table",
}


def describe_merge(table: RawTable) -> str:
    """The merge rule of a table in words."""
    return _RULES[table.merge].format(
        scope=", ".join(table.scope_columns), modified=table.modified_column
    )


def markdown() -> str:
    lines = [
        "| source | kind | table | columns | key | merge rule |",
        "|---|---|---|---|---|---|",
    ]
    for source in SOURCES.values():
        for table in source.tables:
            lines.append(
                f"| {source.name} | {source.kind.value} | `{table.qualified_name}` | "
                f"`{', '.join(table.columns)}` | `{', '.join(table.key)}` | "
                f"{describe_merge(table)} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
