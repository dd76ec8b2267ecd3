from django.urls import re_path

from pooling_dashboard.content.pools import views

urlpatterns = [
    re_path(r'^$', views.IndexView.as_view(), name='index'),
]
