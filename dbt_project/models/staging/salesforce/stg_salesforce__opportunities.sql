-- The opportunity name is dropped: it often carries a company's or person's name.
-- CloseDate is a plain date (the org's calendar); closed_at puts it at 12:00 UTC,
-- the instant whose date is the CloseDate in every time zone from UTC-12 to
-- UTC+11:59, so the reporting time zone shows the deal on its CloseDate (midnight
-- UTC would move it to the day before anywhere west of UTC).
with

source as (

    select * from {{ source('salesforce', 'opportunities') }}

),

renamed as (

    select

        ----------  ids
        id as opportunity_id,
        account_id,
        campaign_id,

        ----------  strings
        upper(trim(currency_iso_code)) as currency_code,
        stage_name,
        lead_source,

        ----------  numerics
        cast(nullif(trim(amount), '') as decimal(18, 2)) as amount,

        ----------  booleans
        coalesce(cast(is_won as boolean), false) as is_won,
        coalesce(cast(is_closed as boolean), false) as is_closed,
        coalesce(cast(is_deleted as boolean), false) as is_deleted,

        ----------  dates
        cast(nullif(trim(close_date), '') as date) as close_date,

        ----------  timestamps
        cast(
            nullif(trim(close_date), '') || ' 12:00:00+00' as {{ type_timestamptz() }}
        ) as closed_at,
        cast(created_date as {{ type_timestamptz() }}) as created_at,
        cast(system_modstamp as {{ type_timestamptz() }}) as modified_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
