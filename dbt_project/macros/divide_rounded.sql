{#
    numerator / denominator rounded half away from zero to `scale` decimals, as
    decimal(18, scale); null when the denominator is 0 or null. Both operands are
    money with at most 2 decimals; scale >= 1. DuckDB divides decimals as DOUBLE, so there the
    quotient is computed exactly on integers (cents).
#}
{% macro divide_rounded(numerator, denominator, scale=4) -%}
    {{ return(adapter.dispatch('divide_rounded', 'reach2revenue')(numerator, denominator, scale)) }}
{%- endmacro %}

{% macro default__divide_rounded(numerator, denominator, scale=4) -%}
    cast(
        round(
            cast({{ numerator }} as decimal(38, 10))
            / nullif(cast({{ denominator }} as decimal(38, 10)), 0),
            {{ scale }}
        ) as decimal(18, {{ scale }})
    )
{%- endmacro %}

{% macro duckdb__divide_rounded(numerator, denominator, scale=4) -%}
    {%- set numerator_cents = "cast(cast(" ~ numerator ~ " as decimal(38, 2)) * 100 as hugeint)" -%}
    {%- set denominator_cents = "cast(cast(" ~ denominator ~ " as decimal(38, 2)) * 100 as hugeint)" -%}
    {#- smallest step of the result, e.g. 0.0001 for scale 4 -#}
    {%- set unit = "0." ~ ("0" * (scale - 1)) ~ "1" -%}
    case
        when {{ denominator }} is null or {{ denominator }} = 0 then null
        else cast(
            sign({{ numerator_cents }}) * sign({{ denominator_cents }})
            * (
                (
                    2 * abs({{ numerator_cents }}) * {{ 10 ** scale }}
                    + abs({{ denominator_cents }})
                )
                // (2 * abs({{ denominator_cents }}))
            )
            * cast({{ unit }} as decimal(38, {{ scale }}))
            as decimal(18, {{ scale }})
        )
    end
{%- endmacro %}
