"""Kakao for bridgekit. This first slice is Alimtalk (알림톡): approved-template informational
messages through the NHN Cloud KakaoTalk Bizmessage API v2.3, with an SMS/LMS fallback sent
through bridgekit's texting plugin. Consultation talk, brand messages and linking come later.
See README.md."""
