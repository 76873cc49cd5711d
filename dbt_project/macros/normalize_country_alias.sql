{#
    Free-text country -> lookup key of seeds/country_aliases.csv: trimmed,
    lower-cased, inner runs of white space collapsed to one space, '' -> null.
#}
{% macro normalize_country_alias(column) -%}
    {{ return(adapter.dispatch('normalize_country_alias', 'reach2revenue')(column)) }}
{%- endmacro %}

{% macro default__normalize_country_alias(column) -%}
    nullif(lower(trim(regexp_replace({{ column }}, '\s+', ' ', 'g'))), '')
{%- endmacro %}

{% macro spark__normalize_country_alias(column) -%}
    nullif(lower(trim(regexp_replace({{ column }}, '\\s+', ' '))), '')
{%- endmacro %}
