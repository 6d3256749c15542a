"""The public request form; its labels and messages are in the language active while it renders."""
from django import forms
from django.utils.translation import gettext_lazy as _

from . import documents
from .models import DataSubjectRequest

MAX_DOCUMENT_BYTES = documents.MAX_BYTES


class RequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("What would you like?"), choices=DataSubjectRequest.KIND_AS_ASKED,
                             widget=forms.RadioSelect)
    email = forms.EmailField(label=_("Your email address"), max_length=254,
                             help_text=_("We only use it to confirm the request and to answer."))
    details = forms.CharField(label=_("Anything we should know (optional)"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 4}))
    visitor_id = forms.UUIDField(required=False, widget=forms.HiddenInput)
    visitor_token = forms.CharField(required=False, max_length=128, widget=forms.HiddenInput)
    agent_name = forms.CharField(label=_("Your name, as their agent"), required=False, max_length=200)
    agent_document = forms.FileField(label=_("Signed authorization (PDF, PNG or JPEG, at most 5 MB)"), required=False)

    def clean_agent_document(self):
        document = self.cleaned_data.get("agent_document")
        if not document:
            return document
        if document.size > MAX_DOCUMENT_BYTES:
            raise forms.ValidationError(_("The authorization must be at most 5 MB."))
        # Checked by content, not by the name or type the uploader gave: stored as <uuid>.<ext> of what it is.
        try:
            kind = documents.detect(document)
        except documents.Unreadable as unreadable:
            if unreadable.kind is None:
                raise forms.ValidationError(_("The authorization must be a PDF, PNG or JPEG file.")) from None
            if unreadable.kind == "pdf":
                raise forms.ValidationError(_("This PDF could not be read; please attach it again.")) from None
            raise forms.ValidationError(_("This image could not be read; please attach it again.")) from None
        document.name = documents.stored_name(kind)
        return document

    def clean(self):
        data = super().clean()
        if data.get("agent_name") and not data.get("agent_document"):
            self.add_error("agent_document", _("An authorized agent must attach the signed authorization."))
        if data.get("agent_document") and not data.get("agent_name"):
            self.add_error("agent_name", _("Give your name as the requester's agent."))
        return data
