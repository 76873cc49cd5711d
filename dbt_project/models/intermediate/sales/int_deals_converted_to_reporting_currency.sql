-- Deals with a region (from one associated contact) and the amount in the
-- reporting currency at the last known rate on or before the close day, where
-- the close day is closed_at (UTC) seen in var('reporting_timezone').
with

deals as (

    select * from {{ ref('stg_hubspot__deals') }}

),

deal_contacts as (

    select * from {{ ref('stg_hubspot__deal_contacts') }}

),

contacts as (

    select * from {{ ref('int_contacts_mapped_to_regions') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates_spanned_to_intervals') }}

),

deal_contacts_ranked as (

    -- HubSpot ids are digit strings: ordering by length, then text, is numeric
    -- order without a cast that would fail on any other id.
    select
        deal_contacts.deal_id,
        deal_contacts.contact_id,
        contacts.country_code,
        contacts.region,
        row_number() over (
            partition by deal_contacts.deal_id
            order by length(deal_contacts.contact_id), deal_contacts.contact_id
        ) as contact_rank

    from deal_contacts
    inner join contacts
        on deal_contacts.contact_id = contacts.contact_id

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
        on deals.deal_id = deal_primary_contacts.deal_id

),

converted as (

    select
        deals_with_region.deal_id,
        deals_with_region.contact_id,
        deals_with_region.country_code,
        deals_with_region.region,
        deals_with_region.deal_stage,
        deals_with_region.pipeline,
        deals_with_region.currency_code,
        '{{ var("reporting_currency") }}' as reporting_currency_code,
        deals_with_region.amount as amount_in_deal_currency,
        fx_rates.rate as fx_rate,
        {{ to_reporting_currency(
            'deals_with_region.amount', 'fx_rates.rate'
        ) }} as amount_in_reporting_currency,
        deals_with_region.is_won,
        deals_with_region.is_closed,
        deals_with_region.is_archived,
        deals_with_region.closed_date,
        deals_with_region.closed_at,
        deals_with_region.created_at

    from deals_with_region
    left join fx_rates
        on
            deals_with_region.currency_code = fx_rates.currency_code
            and deals_with_region.closed_date >= fx_rates.valid_from
            and (
                fx_rates.valid_to is null
                or deals_with_region.closed_date < fx_rates.valid_to
            )

)

select * from converted
