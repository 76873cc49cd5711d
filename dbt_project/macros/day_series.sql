{#
    Select statement yielding one row per calendar day (column `date_column`, type
    date) from `start_column` to `end_column` inclusive of the one-row relation
    `bounds`; nothing when the bounds are null. Cast to date because generate
    functions return timestamps (stack-notes: DuckDB 2.0, Spark).
#}
{% macro day_series(bounds, start_column, end_column, date_column) -%}
    {{ return(adapter.dispatch('day_series', 'reach2revenue')(bounds, start_column, end_column, date_column)) }}
{%- endmacro %}

{% macro default__day_series(bounds, start_column, end_column, date_column) -%}
    select cast(generated_days.day_start as date) as {{ date_column }}
    from {{ bounds }}
    cross join generate_series(
        cast({{ bounds }}.{{ start_column }} as timestamp),
        cast({{ bounds }}.{{ end_column }} as timestamp),
        interval '1 day'
    ) as generated_days (day_start)
    where {{ bounds }}.{{ start_column }} is not null
{%- endmacro %}

{% macro spark__day_series(bounds, start_column, end_column, date_column) -%}
    select explode(
        sequence(
            cast({{ start_column }} as date),
            cast({{ end_column }} as date),
            interval 1 day
        )
    ) as {{ date_column }}
    from {{ bounds }}
    where {{ start_column }} is not null
{%- endmacro %}
