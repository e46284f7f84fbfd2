"""The console speaks Chinese unless the person chose English with the language switch."""

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.deprecation import MiddlewareMixin


class ChosenLanguageMiddleware(MiddlewareMixin):
    """Like Django's LocaleMiddleware, but only the switch's cookie counts: an English browser still gets the
    Chinese console first (the brands and their staff work in Chinese), and English stays one click away.
    Written as hooks so the public paths (siyu.core.public_paths) can call them too."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self.languages = {code for code, _name in settings.LANGUAGES}

    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        translation.activate(chosen if chosen in self.languages else settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request, response):
        patch_vary_headers(response, ["Cookie"])
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response
