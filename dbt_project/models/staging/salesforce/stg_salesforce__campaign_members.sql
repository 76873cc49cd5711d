with

source as (

    select * from {{ source('salesforce', 'campaign_members') }}

),

renamed as (

    select

        ----------  ids
        id as campaign_member_id,
        campaign_id,
        lead_id,
        contact_id,

        ----------  strings
        status as member_status,

        ----------  booleans
        coalesce(cast(has_responded as boolean), false) as has_responded,
        coalesce(cast(is_deleted as boolean), false) as is_deleted,

        ----------  dates
        cast(nullif(trim(first_responded_date), '') as date) as first_responded_date,

        ----------  timestamps
        cast(created_date as {{ type_timestamptz() }}) as created_at,
        cast(system_modstamp as {{ type_timestamptz() }}) as modified_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
