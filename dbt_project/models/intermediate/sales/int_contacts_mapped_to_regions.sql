-- Free-text country -> alias -> ISO-2 -> region, for the people of every CRM. A
-- spelling missing from the aliases (generated and user) gives country_code null and
-- the Unassigned region, and is listed in data_quality_unmapped_countries.
with

contacts as (

    select * from {{ ref('int_crm_contacts_unioned') }}

),

country_aliases as (

    select * from {{ ref('int_country_aliases_merged_with_overrides') }}

),

countries as (

    select * from {{ ref('int_countries_assigned_to_regions') }}

),

contacts_normalised as (

    select
        crm_contact_key,
        crm,
        contact_id,
        country_raw,
        {{ normalize_country_alias('country_raw') }} as country_alias,
        analytics_source,
        utm_source,
        utm_campaign,
        is_deleted,
        created_at

    from contacts

),

mapped as (

    select
        contacts_normalised.crm_contact_key,
        contacts_normalised.crm,
        contacts_normalised.contact_id,
        contacts_normalised.country_raw,
        contacts_normalised.country_alias,
        countries.country_code,
        coalesce(countries.region, {{ unassigned_region() }}) as region,
        contacts_normalised.analytics_source,
        contacts_normalised.utm_source,
        contacts_normalised.utm_campaign,
        countries.country_code is not null as is_country_matched,
        contacts_normalised.is_deleted,
        contacts_normalised.created_at

    from contacts_normalised
    left join country_aliases
        on contacts_normalised.country_alias = country_aliases.country_alias
    left join countries
        on country_aliases.country_code = countries.country_code

)

select * from mapped
