-- The country dimension: every ISO 3166-1 country with its names and its sales
-- region (default map unless seeds/country_region_overrides.csv says otherwise).
with

country_reference as (

    select * from {{ ref('countries') }}

),

countries_assigned as (

    select * from {{ ref('int_countries_assigned_to_regions') }}

),

final as (

    select
        countries_assigned.country_code,
        country_reference.alpha3_code,
        countries_assigned.country_name,
        countries_assigned.un_subregion,
        countries_assigned.region,
        countries_assigned.is_region_overridden

    from countries_assigned
    inner join country_reference
        on countries_assigned.country_code = country_reference.country_code

)

select * from final
