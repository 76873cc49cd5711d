{#
    One relation per source of a kind, stacked: `select <columns> from
    stg_<source>__<model_suffix>` for each source in `sources` (a dbt var such as
    var('ad_platforms')), joined with union all. Every source's conformed staging model
    has the same columns (reach2revenue.contracts); listing them keeps the union
    independent of column order.
#}
{% macro union_conformed(sources, model_suffix, columns) -%}
    {%- for source_name in sources %}
    select {{ columns | join(', ') }}
    from {{ ref('stg_' ~ source_name ~ '__' ~ model_suffix) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
