-- dealname is dropped: deal names often carry a person's or company's name.
with

source as (

    select * from {{ source('hubspot', 'deals') }}

),

renamed as (

    select

        ----------  ids
        id as deal_id,

        ----------  strings
        upper(trim(deal_currency_code)) as currency_code,
        dealstage as deal_stage,
        pipeline,

        ----------  numerics
        cast(nullif(trim(amount), '') as decimal(18, 2)) as amount,

        ----------  booleans
        coalesce(dealstage = 'closedwon', false) as is_won,
        coalesce(dealstage in ('closedwon', 'closedlost'), false) as is_closed,
        coalesce(cast(archived as boolean), false) as is_archived,

        ----------  timestamps
        cast(nullif(closedate, '') as {{ type_timestamptz() }}) as closed_at,
        cast(
            nullif(coalesce(createdate, created_at), '') as {{ type_timestamptz() }}
        ) as created_at,
        cast(
            nullif(coalesce(hs_lastmodifieddate, updated_at), '')
            as {{ type_timestamptz() }}
        ) as modified_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
