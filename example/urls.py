from django.contrib import admin
from django.urls import include, path

from example import views

urlpatterns = [
    path("", views.index, name="index"),
    path("billing/", views.billing, name="billing"),
    path("admin/", admin.site.urls),
    path("stripe/", include("stripe_integrations.urls")),
]
