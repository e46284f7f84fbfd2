"""The chat sidebar's capability, registered when the console app is ready."""

from siyu.orgs.roles import ALL, register_capabilities

register_capabilities({"sidebar.use": ALL})  # what a member sees there is still limited by visible_to
