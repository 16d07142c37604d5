import pytest
from django.contrib.auth.models import Group

from leads import roles

pytestmark = pytest.mark.django_db


def test_migrate_creates_every_role_with_its_permissions():
    names = set(Group.objects.values_list("name", flat=True))
    assert {roles.MARKETING_MANAGER, roles.SALES_REP, roles.SALES_MANAGER, roles.ADMIN} <= names


@pytest.mark.parametrize(
    "persona,perm,expected",
    [
        ("alice", "leads.import_leads", True),
        ("alice", "leads.accept_lead", False),
        ("alice", "leads.view_all_leads", True),
        ("bob", "leads.accept_lead", True),
        ("bob", "leads.import_leads", False),
        ("bob", "leads.reassign_lead", False),
        ("carol", "leads.reassign_lead", True),
        ("carol", "leads.view_team_leads", True),
        ("mallory", "leads.view_lead", False),
    ],
)
def test_permission_matrix(request, persona, perm, expected):
    user = request.getfixturevalue(persona)
    assert user.has_perm(perm) is expected


def test_ensure_roles_is_idempotent():
    roles.ensure_roles()
    roles.ensure_roles()
    assert Group.objects.filter(name=roles.SALES_REP).count() == 1
