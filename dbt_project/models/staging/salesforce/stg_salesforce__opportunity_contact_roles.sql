with

source as (

    select * from {{ source('salesforce', 'opportunity_contact_roles') }}

),

renamed as (

    select

        ----------  ids
        id as opportunity_contact_role_id,
        opportunity_id,
        contact_id,

        ----------  strings
        role as contact_role,

        ----------  booleans
        coalesce(cast(is_primary as boolean), false) as is_primary,
        coalesce(cast(is_deleted as boolean), false) as is_deleted,

        ----------  timestamps
        cast(created_date as {{ type_timestamptz() }}) as created_at,
        cast(system_modstamp as {{ type_timestamptz() }}) as modified_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
