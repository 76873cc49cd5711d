{#
    A left join to int_fx_rates_spanned_to_intervals as `alias`: the interval of
    `currency` that covers `day` (none when no rate is at most
    var('fx_max_stale_days') old). `fx_rates` is the import CTE of that model.
#}
{% macro join_fx_rate(fx_rates, alias, currency, day) -%}
    left join {{ fx_rates }} as {{ alias }}
        on
            {{ currency }} = {{ alias }}.currency_code
            and {{ day }} >= {{ alias }}.valid_from
            and {{ day }} < {{ alias }}.valid_to
{%- endmacro %}

{#
    The day whose rates were used: the older of the two rate dates, where a
    fixed rate (the euro, an irrevocable conversion rate) counts as current.
#}
{% macro fx_rate_date(source_alias, reporting_alias, day) -%}
    {#- least() skips nulls: without both rates there is no rate date #}
    case
        when {{ source_alias }}.currency_code is null
            or {{ reporting_alias }}.currency_code is null then null
        else least(
            case when {{ source_alias }}.is_fixed_rate then {{ day }}
                else {{ source_alias }}.rate_date end,
            case when {{ reporting_alias }}.is_fixed_rate then {{ day }}
                else {{ reporting_alias }}.rate_date end
        )
    end
{%- endmacro %}
