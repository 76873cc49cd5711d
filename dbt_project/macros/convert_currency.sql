{#
    An amount converted with two ECB-style rates (units per euro):
    amount * reporting_units_per_eur / source_units_per_eur, computed exactly
    and rounded once, half away from zero, to the cent (decimal(18, 2)); null
    when either rate is null. Never through a stored, rounded inverse: an
    inverse kept to 8 decimals is cents off on large JPY, HUF or INR amounts.
    Amounts may carry up to 6 decimals, rates up to 10.
#}
{% macro convert_currency(amount, source_units_per_eur, reporting_units_per_eur) -%}
    {{ return(adapter.dispatch('convert_currency', 'reach2revenue')(
        amount, source_units_per_eur, reporting_units_per_eur
    )) }}
{%- endmacro %}

{% macro default__convert_currency(amount, source_units_per_eur, reporting_units_per_eur) -%}
    {#- numeric division on Postgres keeps at least 16 significant digits -#}
    cast(
        round(
            cast({{ amount }} as decimal(38, 6))
            * cast({{ reporting_units_per_eur }} as decimal(38, 10))
            / nullif(cast({{ source_units_per_eur }} as decimal(38, 10)), 0),
            2
        ) as decimal(18, 2)
    )
{%- endmacro %}

{% macro duckdb__convert_currency(amount, source_units_per_eur, reporting_units_per_eur) -%}
    {#- DuckDB divides decimals as DOUBLE: work on integers (hugeint) instead.
        numerator = amount * 1e6 * reporting * 1e10, denominator = source * 1e10 * 1e4,
        so numerator / denominator is the result in cents. -#}
    {%- set amount_units = "cast(cast(" ~ amount ~ " as decimal(38, 6)) * 1000000 as hugeint)" -%}
    {%- set reporting_units = "cast(cast(" ~ reporting_units_per_eur ~ " as decimal(38, 10)) * 10000000000 as hugeint)" -%}
    {%- set source_units = "cast(cast(" ~ source_units_per_eur ~ " as decimal(38, 10)) * 10000000000 as hugeint)" -%}
    case
        when {{ source_units_per_eur }} is null or {{ reporting_units_per_eur }} is null
            or {{ source_units_per_eur }} = 0 or {{ amount }} is null
            then null
        else cast(
            sign({{ amount_units }}) * sign({{ source_units }})
            * (
                (
                    2 * abs({{ amount_units }}) * {{ reporting_units }}
                    + abs({{ source_units }}) * 10000
                )
                // (2 * abs({{ source_units }}) * 10000)
            )
            * cast(0.01 as decimal(38, 2))
            as decimal(18, 2)
        )
    end
{%- endmacro %}
