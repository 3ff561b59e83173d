use super::*;

/// (category, matched text) of every entity found.
fn found(text: &str) -> Vec<(PiiCategory, &str)> {
    recognize(text, None).into_iter().map(|e| (e.category, &text[e.start..e.end])).collect()
}

fn found_in(text: &str, category: PiiCategory) -> Vec<&str> {
    recognize(text, Some(&[category])).into_iter().map(|e| &text[e.start..e.end]).collect()
}

const SAMPLE: &str = "Contact John at john.doe@example.com or (555) 555-0100; card 4111 1111 1111 1111, \
IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6789, IP 192.168.1.10, see https://example.com/x. \
Born March 15, 1990.";

#[test]
fn sentence_with_every_kind() {
    use PiiCategory::*;
    assert_eq!(
        found(SAMPLE),
        vec![
            (Email, "john.doe@example.com"),
            (PhoneNumber, "(555) 555-0100"),
            (CreditCardNumber, "4111 1111 1111 1111"),
            (InternationalBankingAccountNumber, "DE89 3704 0044 0532 0130 00"),
            (USSocialSecurityNumber, "123-45-6789"),
            (IPAddress, "192.168.1.10"),
            (URL, "https://example.com/x"),
            (DateTime, "March 15, 1990"),
        ]
    );
    let entities = recognize(SAMPLE, None);
    assert_eq!(
        redact(SAMPLE, &entities),
        "Contact John at ******************** or **************; card *******************, \
IBAN ***************************, SSN ***********, IP ************, see *********************. \
Born **************."
    );
    for e in &entities {
        assert!((0.0..=1.0).contains(&e.confidence), "{e:?}");
        let expected_sub = (e.category == DateTime).then_some("Date");
        assert_eq!(e.subcategory, expected_sub);
    }
    // Checksummed numbers score high; the context words ("card", "IBAN", "SSN") raise them.
    let conf = |c: PiiCategory| entities.iter().find(|e| e.category == c).map(|e| e.confidence);
    assert_eq!(conf(CreditCardNumber), Some(1.0));
    assert_eq!(conf(InternationalBankingAccountNumber), Some(1.0));
    assert!(conf(USSocialSecurityNumber).is_some_and(|c| c >= 0.9));
}

#[test]
fn result_is_sorted_and_disjoint() {
    let entities = recognize(SAMPLE, None);
    for pair in entities.windows(2) {
        assert!(pair[0].end <= pair[1].start, "{pair:?}");
    }
}

#[test]
fn category_filter() {
    assert_eq!(found_in(SAMPLE, PiiCategory::USSocialSecurityNumber), ["123-45-6789"]);
    assert_eq!(found_in(SAMPLE, PiiCategory::Email), ["john.doe@example.com"]);
    let both = recognize(SAMPLE, Some(&[PiiCategory::IPAddress, PiiCategory::URL]));
    let cats: Vec<_> = both.iter().map(|e| e.category).collect();
    assert_eq!(cats, [PiiCategory::IPAddress, PiiCategory::URL]);
    assert!(recognize(SAMPLE, Some(&[])).is_empty());
    // Digits inside the IBAN never come back as another category when the IBAN is filtered out.
    assert!(found_in(SAMPLE, PiiCategory::PhoneNumber) == ["(555) 555-0100"]);
    assert_eq!(found_in(SAMPLE, PiiCategory::CreditCardNumber), ["4111 1111 1111 1111"]);
}

#[test]
fn non_ascii_offsets_and_char_redaction() {
    let text = "Café é: a@b.co";
    let entities = recognize(text, None);
    assert_eq!(entities.len(), 1);
    let e = &entities[0];
    assert_eq!((e.category, e.start, e.end), (PiiCategory::Email, 10, 16));
    assert_eq!(&text[e.start..e.end], "a@b.co");
    assert_eq!(redact(text, &entities), "Café é: ******");

    let text = "日本語のテキスト 電話 +81 3 1234 5678 です";
    assert_eq!(found(text), [(PiiCategory::PhoneNumber, "+81 3 1234 5678")]);
    let redacted = redact(text, &recognize(text, None));
    assert_eq!(redacted, "日本語のテキスト 電話 *************** です");
}

#[test]
fn redact_masks_entity_chars_only() {
    let text = "ünï 123-45-6789 ünï";
    let e = recognize(text, None);
    assert_eq!(redact(text, &e), "ünï *********** ünï");
    assert_eq!(redact(text, &[]), text);
    // A multi-byte character inside an entity becomes a single '*'.
    let fake = PiiEntity { category: PiiCategory::Email, subcategory: None, start: 0, end: 4, confidence: 1.0 };
    assert_eq!(redact("éé ok", &[fake]), "** ok");
}

#[test]
fn plain_prose_has_no_pii() {
    for text in [
        "The meeting is at 10 and we need 3 chairs.",
        "We sold 1,234,567 units in Q3 2023 at 19.99 each.",
        "Version 1.2.3.4 fixes the 10:30:45 timestamp bug; see section 4.2.1.",
        "Use ASP.NET or Node.js, and call std::vec::Vec::new() from main.rs.",
        "Order 1234567890123456 shipped; ticket 123456789.",
        "THE QUARTERLY REPORT IS DUE TOMORROW AND REQUIRED",
    ] {
        assert_eq!(found(text), [], "{text}");
    }
}

#[test]
fn emails() {
    let t = "Mail first.last+tag@sub.example.co.uk, or (x@y.io). Not: a@b, foo@bar.c, @home.";
    assert_eq!(found_in(t, PiiCategory::Email), ["first.last+tag@sub.example.co.uk", "x@y.io"]);
    assert_eq!(found_in("josé@correo.es", PiiCategory::Email), ["josé@correo.es"]);
}

#[test]
fn phone_numbers() {
    let t = "Call (555) 555-0100, 555-555-0100, +1 555 555 0100, 555.555.0100 or 1-800-555-0199.";
    assert_eq!(
        found_in(t, PiiCategory::PhoneNumber),
        ["(555) 555-0100", "555-555-0100", "+1 555 555 0100", "555.555.0100", "1-800-555-0199"]
    );
    let t = "London +44 20 7946 0958, Paris +33 1 23 45 67 89, Berlin +49 30 123456.";
    assert_eq!(found_in(t, PiiCategory::PhoneNumber), ["+44 20 7946 0958", "+33 1 23 45 67 89", "+49 30 123456"]);
    assert_eq!(
        found_in("Tel. +44 (0)20 7946 0958 or 01 23 45 67 89", PiiCategory::PhoneNumber),
        ["+44 (0)20 7946 0958", "01 23 45 67 89"]
    );
    // Unformatted ten digits only with a phone word nearby.
    assert_eq!(found_in("phone: 5555550100", PiiCategory::PhoneNumber), ["5555550100"]);
    assert!(found_in("order 5555550100", PiiCategory::PhoneNumber).is_empty());
    // Mixed separators, bad area codes, too long.
    for bad in ["555-555.0100", "055-555-0100", "555-555-01000", "+1 555 555 01", "+12345"] {
        assert!(found_in(bad, PiiCategory::PhoneNumber).is_empty(), "{bad}");
    }
}

#[test]
fn phone_context_raises_confidence() {
    let plain = recognize("555-555-0100", None);
    let ctx = recognize("phone 555-555-0100", None);
    assert_eq!(plain.len(), 1);
    assert_eq!(ctx.len(), 1);
    assert!(ctx[0].confidence > plain[0].confidence);
}

#[test]
fn credit_cards() {
    let t = "Cards: 4111-1111-1111-1111, 5555555555554444, 3782 822463 10005, 6011 1111 1111 1117.";
    assert_eq!(
        found_in(t, PiiCategory::CreditCardNumber),
        ["4111-1111-1111-1111", "5555555555554444", "3782 822463 10005", "6011 1111 1111 1117"]
    );
}

#[test]
fn luhn_failure_rejected() {
    assert!(found_in("card 4111 1111 1111 1112", PiiCategory::CreditCardNumber).is_empty());
    assert!(found("card 4111 1111 1111 1112").is_empty());
    // Luhn-valid but all zeros, or mixed separators.
    assert!(found("card 0000 0000 0000 0000").is_empty());
    assert!(found("4111 1111-1111 1111").is_empty());
}

#[test]
fn unknown_issuer_needs_context() {
    // 9999999999999995 passes Luhn but no network issues 99...
    assert!(found("ref 9999 9999 9999 9995").is_empty());
    let t = "credit card 9999 9999 9999 9995";
    assert_eq!(found_in(t, PiiCategory::CreditCardNumber), ["9999 9999 9999 9995"]);
}

#[test]
fn ibans() {
    let t = "Pay DE89370400440532013000 or GB82 WEST 1234 5698 7654 32 or FR14 2004 1010 0505 0001 3M02 606.";
    assert_eq!(
        found_in(t, PiiCategory::InternationalBankingAccountNumber),
        ["DE89370400440532013000", "GB82 WEST 1234 5698 7654 32", "FR14 2004 1010 0505 0001 3M02 606"]
    );
}

#[test]
fn bad_iban_rejected() {
    // Wrong check digits, wrong length, irregular spacing.
    for bad in [
        "IBAN DE88 3704 0044 0532 0130 00",
        "IBAN DE89 3704 0044 0532 0130 0",
        "IBAN DE89 3704 0044 0532 0130 000",
        "IBAN DE89 37040044 0532 0130 00",
    ] {
        assert!(found_in(bad, PiiCategory::InternationalBankingAccountNumber).is_empty(), "{bad}");
    }
    assert!(found("IBAN DE88 3704 0044 0532 0130 00").is_empty());
}

#[test]
fn ssn_and_itin() {
    assert_eq!(found("SSN 123-45-6789"), [(PiiCategory::USSocialSecurityNumber, "123-45-6789")]);
    assert_eq!(found("ssn: 123 45 6789"), [(PiiCategory::USSocialSecurityNumber, "123 45 6789")]);
    assert_eq!(found("My SSN is 123456789."), [(PiiCategory::USSocialSecurityNumber, "123456789")]);
    assert!(found("Invoice 123456789.").is_empty());
    assert_eq!(found("ITIN 912-70-1234"), [(PiiCategory::USIndividualTaxpayerIdentification, "912-70-1234")]);
}

#[test]
fn invalid_ssn_rejected() {
    for bad in [
        "SSN 000-12-3456",
        "SSN 666-12-3456",
        "SSN 923-45-6789",
        "SSN 123-00-6789",
        "SSN 123-45-0000",
        "SSN 123-45 6789",
        "SSN 1123-45-6789",
        "SSN 123-45-67890",
    ] {
        assert!(found(bad).is_empty(), "{bad}");
    }
}

#[test]
fn ip_addresses() {
    let t = "Hosts 10.0.0.1, 255.255.255.255:8080 and fe80::1ff:fe23:4567:890a, ::1 and 2001:db8::8a2e:370:7334.";
    assert_eq!(
        found_in(t, PiiCategory::IPAddress),
        ["10.0.0.1", "255.255.255.255", "fe80::1ff:fe23:4567:890a", "::1", "2001:db8::8a2e:370:7334"]
    );
    assert_eq!(found_in("mapped ::ffff:192.168.1.1 here", PiiCategory::IPAddress), ["::ffff:192.168.1.1"]);
}

#[test]
fn invalid_ips_rejected() {
    for bad in ["999.1.1.1", "1.2.3.4.5", "256.1.1.1", "version 1.0.0.1", "v1.2.3.4", "12:30:45"] {
        assert!(found_in(bad, PiiCategory::IPAddress).is_empty(), "{bad}");
    }
    assert!(found("999.1.1.1").is_empty());
}

#[test]
fn urls() {
    let t = "Visit www.example.org/path?q=1, http://localhost:8080/x, example.com and \
             https://user@host.example.net:8443/a/b#frag.";
    assert_eq!(
        found_in(t, PiiCategory::URL),
        [
            "www.example.org/path?q=1",
            "http://localhost:8080/x",
            "example.com",
            "https://user@host.example.net:8443/a/b#frag"
        ]
    );
    // A URL containing an email-like part and an IP stays one URL.
    let t = "see https://example.com/u?mail=a@b.co&ip=10.0.0.1 now";
    assert_eq!(found(t), [(PiiCategory::URL, "https://example.com/u?mail=a@b.co&ip=10.0.0.1")]);
}

#[test]
fn dates() {
    let t = "On 2024-03-15, 03/15/2024, 15.03.2024, 15/03/2024, March 15, 2024, 15 March 2024, \
             Mar 15th 2024 and 1st of Feb. 2023.";
    assert_eq!(
        found_in(t, PiiCategory::DateTime),
        [
            "2024-03-15",
            "03/15/2024",
            "15.03.2024",
            "15/03/2024",
            "March 15, 2024",
            "15 March 2024",
            "Mar 15th 2024",
            "1st of Feb. 2023"
        ]
    );
    assert_eq!(found_in("at 2024-03-15T10:00:00Z", PiiCategory::DateTime), ["2024-03-15"]);
    for bad in ["2024-13-01", "2023-02-29", "31.04.2024", "13.13.2024", "February 30, 2024", "1.2.3"] {
        assert!(found_in(bad, PiiCategory::DateTime).is_empty(), "{bad}");
    }
}

#[test]
fn swift_and_aba_need_context() {
    assert_eq!(found("SWIFT/BIC: DEUTDEFF500"), [(PiiCategory::SWIFTCode, "DEUTDEFF500")]);
    assert!(found("DEUTDEFF500").is_empty());
    assert_eq!(found("routing number 021000021"), [(PiiCategory::ABARoutingNumber, "021000021")]);
    assert!(found("routing number 021000022").is_empty());
}

#[test]
fn category_names_round_trip() {
    for &c in PiiCategory::all() {
        assert_eq!(PiiCategory::from_azure_name(c.azure_name()), Some(c));
        assert_eq!(PiiCategory::from_azure_name(&c.azure_name().to_lowercase()), Some(c));
    }
    assert_eq!(PiiCategory::from_azure_name("url"), Some(PiiCategory::URL));
    assert_eq!(
        PiiCategory::from_azure_name("InternationalBankingAccountNumber"),
        Some(PiiCategory::InternationalBankingAccountNumber)
    );
    assert_eq!(PiiCategory::from_azure_name("Person"), Some(PiiCategory::Person));
    assert_eq!(PiiCategory::from_azure_name("PersonType"), None);
    assert_eq!(PiiCategory::all().len(), 14);
}

#[test]
fn overlap_keeps_longer() {
    let mk = |category, start, end, confidence| PiiEntity { category, subcategory: None, start, end, confidence };
    let kept = resolve_overlaps(vec![
        mk(PiiCategory::PhoneNumber, 5, 15, 0.9),
        mk(PiiCategory::InternationalBankingAccountNumber, 0, 27, 0.95),
        mk(PiiCategory::DateTime, 30, 40, 0.8),
        mk(PiiCategory::IPAddress, 30, 40, 0.8),
    ]);
    let cats: Vec<_> = kept.iter().map(|e| e.category).collect();
    assert_eq!(cats, [PiiCategory::InternationalBankingAccountNumber, PiiCategory::IPAddress]);
}

#[test]
fn empty_text() {
    assert!(recognize("", None).is_empty());
    assert_eq!(redact("", &[]), "");
}
