"""The privacy app's capabilities, registered when the console app is ready."""

from siyu.orgs.roles import HQ, register_capabilities

register_capabilities({
    "pii.view": HQ,
})
