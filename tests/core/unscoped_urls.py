"""A public URLconf whose one view reads a tenant table without a scope: the tenant guard must refuse it."""

from django.http import HttpResponse
from django.urls import path

from siyu.customers.models import Customer


def unscoped(request):
    return HttpResponse(str(len(list(Customer.objects.all()))))


urlpatterns = [path("t/unscoped/", unscoped)]
