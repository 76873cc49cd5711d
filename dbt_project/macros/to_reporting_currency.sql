{#
    Amount in the reporting currency, exact to the cent: both operands widened to
    decimal(38, x) before multiplying (decimal(18,2) * decimal(18,8) overflows on
    DuckDB past about 1e8), rounded half away from zero to 2 decimals, then
    narrowed back to the project's money type decimal(18,2). No division.
#}
{% macro to_reporting_currency(amount, rate) -%}
    cast(
        round(
            cast({{ amount }} as decimal(38, 2))
            * cast({{ rate }} as decimal(38, 8)),
            2
        ) as decimal(18, 2)
    )
{%- endmacro %}
