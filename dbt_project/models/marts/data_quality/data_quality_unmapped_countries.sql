-- Country values that could not be placed in a region, so someone can add the
-- spelling to seeds/country_alias_overrides.csv. CRM free text that no alias
-- knows, and ad-platform country codes that are no ISO 3166-1 country other than
-- the value Meta documents for "don't know" ("unknown").
with

contacts as (

    select * from {{ ref('int_contacts_mapped_to_regions') }}

),

ad_reports as (

    select * from {{ ref('int_ad_reports_converted_to_reporting_currency') }}

),

unmapped_contact_countries as (

    select
        crm as source_name,
        'contact.country' as field_name,
        country_alias as country_value,
        count(*) as row_count,
        min(created_at) as first_seen_at,
        max(created_at) as last_seen_at

    from contacts
    where not is_country_matched and country_alias is not null
    group by 1, 2, 3

),

unmapped_ad_countries as (

    select
        ad_platform as source_name,
        'ad_report.country' as field_name,
        country_code as country_value,
        count(*) as row_count,
        cast(min(report_date) as {{ type_timestamptz() }}) as first_seen_at,
        cast(max(report_date) as {{ type_timestamptz() }}) as last_seen_at

    from ad_reports
    where not is_country_matched and lower(country_code) != 'unknown'
    group by 1, 2, 3

),

unioned as (

    select * from unmapped_contact_countries
    union all
    select * from unmapped_ad_countries

),

final as (

    select
        {{ generate_surrogate_key(['source_name', 'field_name', 'country_value']) }}
            as unmapped_country_id,
        source_name,
        field_name,
        country_value,
        cast(row_count as bigint) as row_count,
        first_seen_at,
        last_seen_at

    from unioned

)

select * from final
