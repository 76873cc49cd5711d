-- Every ISO 3166-1 country with its sales region: the default map (seed
-- countries, generated from pycountry and UN M49) unless the user's
-- country_region_overrides seed says otherwise.
with

countries as (

    select * from {{ ref('countries') }}

),

region_overrides as (

    select * from {{ ref('country_region_overrides') }}

),

assigned as (

    select
        countries.country_code,
        countries.country_name,
        countries.un_subregion,
        coalesce(region_overrides.region, countries.region) as region,
        region_overrides.region is not null as is_region_overridden

    from countries
    left join region_overrides
        on countries.country_code = upper(trim(region_overrides.country_code))

)

select * from assigned
