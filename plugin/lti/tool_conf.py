"""pylti1p3 tool configuration read from the database (registrations are rows, not JSON files)."""
from __future__ import annotations

from pylti1p3.deployment import Deployment as LibDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import select

from plugin.extensions import db
from plugin.lti import keys
from plugin.tenancy.models import Deployment, Platform


def registration_for(platform: Platform) -> Registration:
    reg = Registration()
    reg.set_issuer(platform.issuer).set_client_id(platform.client_id)
    reg.set_auth_login_url(platform.auth_login_url).set_auth_token_url(platform.auth_token_url)
    reg.set_key_set_url(platform.key_set_url)
    return reg


class DbToolConf(ToolConfAbstract):
    """Every issuer may have several client ids (hosted Canvas), so lookups always use both."""

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss, *args, **kwargs):
        raise NotImplementedError("registrations are keyed by (issuer, client_id)")

    def find_registration_by_params(self, iss, client_id, *args, **kwargs):
        platform = db.session.scalar(select(Platform).where(Platform.issuer == iss, Platform.client_id == client_id))
        return registration_for(platform) if platform else None

    def find_deployment(self, iss, deployment_id):
        raise NotImplementedError("deployments are looked up with the client id")

    def find_deployment_by_params(self, iss, deployment_id, client_id, *args, **kwargs):
        row = db.session.scalar(
            select(Deployment).join(Platform).where(
                Platform.issuer == iss, Platform.client_id == client_id, Deployment.deployment_id == deployment_id
            )
        )
        return LibDeployment().set_deployment_id(row.deployment_id) if row else None

    def get_jwks(self, iss=None, client_id=None, **kwargs):
        return keys.public_jwks()
