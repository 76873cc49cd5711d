{#
    Meta Ads "actions" (a JSON list held as text, e.g.
    [{"action_type": "lead", "value": "3"}, ...]) -> sum of the values of one
    action_type as bigint; null, empty list or no such action -> 0.
#}
{% macro sum_action_values(actions_column, action_type) -%}
    {{ return(adapter.dispatch('sum_action_values', 'reach2revenue')(actions_column, action_type)) }}
{%- endmacro %}

{% macro duckdb__sum_action_values(actions_column, action_type) -%}
    cast(coalesce(
        list_sum(
            list_transform(
                list_filter(
                    json_transform(
                        {{ actions_column }},
                        '[{"action_type": "VARCHAR", "value": "VARCHAR"}]'
                    ),
                    lambda action: action.action_type = '{{ action_type }}'
                ),
                lambda action: cast(action.value as bigint)
            )
        ),
        0
    ) as bigint)
{%- endmacro %}

{% macro postgres__sum_action_values(actions_column, action_type) -%}
    coalesce((
        select sum(cast(action ->> 'value' as bigint))
        from jsonb_array_elements(cast({{ actions_column }} as jsonb)) as action
        where action ->> 'action_type' = '{{ action_type }}'
    ), 0)
{%- endmacro %}

{% macro spark__sum_action_values(actions_column, action_type) -%}
    cast(coalesce(
        aggregate(
            filter(
                from_json(
                    {{ actions_column }},
                    'array<struct<action_type: string, value: string>>'
                ),
                action -> action.action_type = '{{ action_type }}'
            ),
            cast(0 as bigint),
            (total, action) -> total + cast(action.value as bigint)
        ),
        0
    ) as bigint)
{%- endmacro %}
