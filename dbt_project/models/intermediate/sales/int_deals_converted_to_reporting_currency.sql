-- Deals of every CRM with a region (from one associated contact) and the amount in
-- the reporting currency, where the close day is closed_at (UTC) seen in
-- var('reporting_timezone'). Rates: the last published on or before that day,
-- at most var('fx_max_stale_days') old; none means amount_in_reporting_currency
-- is null and is_fx_converted false (counted in the marts, never guessed).
with

deals as (

    select * from {{ ref('int_crm_deals_unioned') }}

),

deal_contacts as (

    select * from {{ ref('int_crm_deal_contacts_unioned') }}

),

contacts as (

    select * from {{ ref('int_contacts_mapped_to_regions') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates_spanned_to_intervals') }}

),

deal_contacts_ranked as (

    -- Ordering by length, then text, is numeric order for digit ids (HubSpot)
    -- without a cast that would fail on any other id (Salesforce).
    select
        deal_contacts.crm_deal_key,
        deal_contacts.contact_id,
        contacts.country_code,
        contacts.region,
        row_number() over (
            partition by deal_contacts.crm_deal_key
            order by length(deal_contacts.contact_id), deal_contacts.contact_id
        ) as contact_rank

    from deal_contacts
    inner join contacts
        on deal_contacts.crm_contact_key = contacts.crm_contact_key

),

deal_primary_contacts as (

    select * from deal_contacts_ranked
    where contact_rank = 1

),

deals_with_region as (

    select
        deals.*,
        deal_primary_contacts.contact_id,
        deal_primary_contacts.country_code,
        coalesce(
            deal_primary_contacts.region, {{ unassigned_region() }}
        ) as region,
        {{ local_date('deals.closed_at', var('reporting_timezone')) }}
            as closed_date

    from deals
    left join deal_primary_contacts
        on deals.crm_deal_key = deal_primary_contacts.crm_deal_key

),

converted as (

    select
        deals_with_region.crm_deal_key,
        deals_with_region.crm,
        deals_with_region.deal_id,
        deals_with_region.contact_id,
        deals_with_region.country_code,
        deals_with_region.region,
        deals_with_region.deal_stage,
        deals_with_region.currency_code,
        '{{ var("reporting_currency") }}' as reporting_currency_code,
        deals_with_region.amount as amount_in_deal_currency,
        source_rate.units_per_eur as deal_currency_units_per_eur,
        reporting_rate.units_per_eur as reporting_currency_units_per_eur,
        {{ convert_currency(
            'deals_with_region.amount',
            'source_rate.units_per_eur',
            'reporting_rate.units_per_eur',
        ) }} as amount_in_reporting_currency,
        deals_with_region.is_won,
        deals_with_region.is_closed,
        deals_with_region.is_deleted,
        source_rate.currency_code is not null
        and reporting_rate.currency_code is not null as is_fx_converted,
        {{ fx_rate_date(
            'source_rate', 'reporting_rate', 'deals_with_region.closed_date'
        ) }} as fx_rate_date,
        deals_with_region.closed_date,
        deals_with_region.closed_at,
        deals_with_region.created_at

    from deals_with_region
    {{ join_fx_rate(
        'fx_rates', 'source_rate',
        'deals_with_region.currency_code', 'deals_with_region.closed_date'
    ) }}
    {{ join_fx_rate(
        'fx_rates', 'reporting_rate',
        "'" ~ var('reporting_currency') ~ "'", 'deals_with_region.closed_date'
    ) }}

),

final as (

    select
        *,
        coalesce(fx_rate_date < closed_date, false) as is_fx_rate_stale

    from converted

)

select * from final
