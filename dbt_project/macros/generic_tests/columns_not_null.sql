{#
    Fails when any of the listed columns holds a null: one row per such column, with
    its null count (the failure count is the number of nulls). One test per model
    instead of one not_null per column: most staging and intermediate models are
    views, and every test re-runs a view's whole query, so per-column tests cost the
    model's query once per column (294 tests, about two thirds of a build's test time).
#}
{% test columns_not_null(model, column_names) %}
{{ config(fail_calc='coalesce(sum(null_rows), 0)') }}

with null_counts as (

    select
        {%- for column_name in column_names %}
        sum(case when {{ column_name }} is null then 1 else 0 end) as null_rows_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

)

{% for column_name in column_names -%}
select '{{ column_name }}' as column_name, null_rows_{{ loop.index }} as null_rows
from null_counts
where null_rows_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif %}
{%- endfor %}

{% endtest %}
