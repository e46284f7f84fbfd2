import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")
django_application = get_wsgi_application()

from siyu.tracking.quick_opens import QuickOpens  # noqa: E402 - needs the apps loaded above

application = QuickOpens(django_application)
