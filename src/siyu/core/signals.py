from django.core.management import call_command


def create_cache_table(sender, **kwargs):
    """The database cache needs its table; making it part of every migrate leaves no step to forget."""
    call_command("createcachetable", database=kwargs.get("using", "default"), verbosity=0)
