-- The region dimension: every sales region with its countries, plus the Unassigned
-- bucket (no countries) for rows whose country is missing or not recognised.
with

countries as (

    select * from {{ ref('int_countries_assigned_to_regions') }}

),

regions_from_countries as (

    select
        region,
        count(*) as country_count,
        {{ dbt.listagg('country_code', "', '", 'order by country_code') }}
            as country_codes,
        false as is_unassigned

    from countries
    group by 1

),

unassigned as (

    select
        {{ unassigned_region() }} as region,
        0 as country_count,
        cast(null as {{ dbt.type_string() }}) as country_codes,
        true as is_unassigned

),

unioned as (

    select * from regions_from_countries
    union all
    select * from unassigned

),

final as (

    select
        region,
        country_codes,
        cast(country_count as integer) as country_count,
        is_unassigned

    from unioned

)

select * from final
