{#
    Calendar date of an instant (timestamp with time zone) in the named IANA time
    zone, independent of the session time zone.
#}
{% macro local_date(ts, tz) -%}
    {{ return(adapter.dispatch('local_date', 'reach2revenue')(ts, tz)) }}
{%- endmacro %}

{% macro default__local_date(ts, tz) -%}
    cast(({{ ts }} at time zone '{{ tz }}') as date)
{%- endmacro %}

{% macro spark__local_date(ts, tz) -%}
    to_date(from_utc_timestamp({{ ts }}, '{{ tz }}'))
{%- endmacro %}
