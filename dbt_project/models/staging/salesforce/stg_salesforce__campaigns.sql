with

source as (

    select * from {{ source('salesforce', 'campaigns') }}

),

renamed as (

    select

        ----------  ids
        id as campaign_id,

        ----------  strings
        name as campaign_name,
        type as campaign_type,
        status as campaign_status,

        ----------  booleans
        coalesce(cast(is_deleted as boolean), false) as is_deleted,

        ----------  dates
        cast(nullif(trim(start_date), '') as date) as start_date,
        cast(nullif(trim(end_date), '') as date) as end_date,

        ----------  timestamps
        cast(created_date as {{ type_timestamptz() }}) as created_at,
        cast(system_modstamp as {{ type_timestamptz() }}) as modified_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
