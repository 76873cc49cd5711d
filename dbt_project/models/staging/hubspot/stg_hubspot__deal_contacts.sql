with

source as (

    select * from {{ source('hubspot', 'deal_contacts') }}

),

renamed as (

    select

        ----------  ids
        {{ generate_surrogate_key(['deal_id', 'contact_id']) }} as deal_contact_id,
        deal_id,
        contact_id,

        ----------  numerics
        cast(association_type_id as integer) as association_type_id,

        ----------  timestamps
        _loaded_at as loaded_at

    from source

)

select * from renamed
