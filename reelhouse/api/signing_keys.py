"""`/iam/signing-keys`: RSA keys whose private half signs the JWTs that open private playback IDs."""

from __future__ import annotations

import base64
from typing import Annotated

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from reelhouse.api.deps import PageDep, RuntimeDep, WorkspaceDep, uuid_param
from reelhouse.api.routing import WireRoute
from reelhouse.db.models import SigningKey
from reelhouse.playback import access
from reelhouse.wire import views
from reelhouse.wire.errors import not_found
from reelhouse.wire.schemas import (
    CreatedSigningKeyOut,
    Envelope,
    ListEnvelope,
    SigningKeyDetailOut,
    SigningKeyOut,
    SuccessOnly,
)

router = APIRouter(route_class=WireRoute, tags=["signing keys"])


SigningKeyIdDep = Annotated[str, Depends(uuid_param("signingKeyId"))]


def _b64(pem: bytes) -> str:
    return base64.b64encode(pem).decode()


def _get(session: Session, workspace_id: str, key_id: str) -> SigningKey:
    row = session.scalar(select(SigningKey).where(SigningKey.id == key_id, SigningKey.workspace_id == workspace_id))
    if row is None:
        raise not_found("Signing key")
    return row


@router.post(
    "/iam/signing-keys", status_code=201, response_model=Envelope[CreatedSigningKeyOut], summary="Create a signing key"
)
def create_signing_key(rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[CreatedSigningKeyOut]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with rt.db.write() as session:
        row = SigningKey(workspace_id=workspace, public_key=public_pem.decode())
        session.add(row)
        session.flush()
        out = CreatedSigningKeyOut(id=row.id, private_key=_b64(private_pem), created_at=views.timestamp(row.created_at))
    return Envelope(data=out)


@router.get("/iam/signing-keys", response_model=ListEnvelope[SigningKeyOut], summary="List signing keys")
def list_signing_keys(rt: RuntimeDep, workspace: WorkspaceDep, page: PageDep) -> ListEnvelope[SigningKeyOut]:
    with rt.db.read() as session:
        rows, pagination = page.select(session, SigningKey, SigningKey.workspace_id == workspace,
                                       by=SigningKey.created_at)
    data = [SigningKeyOut(id=row.id, created_at=views.timestamp(row.created_at)) for row in rows]
    return ListEnvelope(data=data, pagination=pagination)


@router.get(
    "/iam/signing-keys/{signingKeyId}", response_model=Envelope[SigningKeyDetailOut], summary="Get a signing key"
)
def get_signing_key(key_id: SigningKeyIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[SigningKeyDetailOut]:
    with rt.db.read() as session:
        row = _get(session, workspace, key_id)
    return Envelope(
        data=SigningKeyDetailOut(
            id=row.id,
            signing_key_id=row.id,
            workspace_id=row.workspace_id,
            public_key=_b64(row.public_key.encode()),
            created_at=views.timestamp(row.created_at),
        )
    )


@router.delete("/iam/signing-keys/{signingKeyId}", response_model=SuccessOnly, summary="Delete a signing key")
def delete_signing_key(key_id: SigningKeyIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> SuccessOnly:
    """Tokens it signed stop working at once: playback checks look the key up on every request."""
    with rt.db.write() as session:
        session.delete(_get(session, workspace, key_id))
    access.forget_key(key_id)
    return SuccessOnly()
