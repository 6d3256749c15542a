"""The public request form, with labels in the visitor's language."""
from django import forms

from .models import DataSubjectRequest

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
# Checked by content, not by the file name the uploader chose.
DOCUMENT_SIGNATURES = {b"%PDF-": "PDF", b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}


class RequestForm(forms.Form):
    kind = forms.ChoiceField(choices=DataSubjectRequest.Kind.choices, widget=forms.RadioSelect)
    email = forms.EmailField(max_length=254)
    details = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))
    visitor_id = forms.UUIDField(required=False, widget=forms.HiddenInput)
    visitor_token = forms.CharField(required=False, max_length=128, widget=forms.HiddenInput)
    agent_name = forms.CharField(required=False, max_length=200)
    agent_document = forms.FileField(required=False)

    def __init__(self, *args, texts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(key, texts["kinds"][key]) for key, _ in DataSubjectRequest.Kind.choices]
        for name in ("email", "details", "agent_name", "agent_document"):
            self.fields[name].label = texts[name]
        self.fields["kind"].label = texts["kind_legend"]
        self.fields["email"].help_text = texts["email_help"]

    def clean_agent_document(self):
        document = self.cleaned_data.get("agent_document")
        if not document:
            return document
        if document.size > MAX_DOCUMENT_BYTES:
            raise forms.ValidationError("The authorization must be at most 5 MB.")
        head = document.read(8)
        document.seek(0)
        if not any(head.startswith(signature) for signature in DOCUMENT_SIGNATURES):
            raise forms.ValidationError("The authorization must be a PDF, PNG or JPEG file.")
        return document

    def clean(self):
        data = super().clean()
        if data.get("agent_name") and not data.get("agent_document"):
            self.add_error("agent_document", "An authorized agent must attach the signed authorization.")
        if data.get("agent_document") and not data.get("agent_name"):
            self.add_error("agent_name", "Give your name as the requester's agent.")
        return data
