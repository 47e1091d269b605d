//! The records of every message (domain.md §2), declared once. Element
//! names follow the public integration code; where sources are unsure the
//! reader stays tolerant (unknown elements are skipped, order is free).
//!
//! Names here are the wire names; JSON uses them too, so a vendor can map
//! our output to the specification without a dictionary.

use super::model::{record, Rules};
use crate::codes::*;

record! {
    /// `MessageHeader`: one struct for all messages (each message uses a
    /// subset; which fields are required is checked per message kind).
    pub struct MessageHeader {
        process_execution_time: Option<String> = "ProcessExecutionTime" => timestamp,
        qualification_confirmation_date: Option<String> = "QualificationConfirmationDate" => date,
        medical_institution_code: Option<String> = "MedicalInstitutionCode" => institution,
        arbitrary_file_identifier: Option<String> = "ArbitraryFileIdentifier",
        reference_classification: Option<ReferenceClassification> = "ReferenceClassification",
        segment_of_result: Option<SegmentOfResult> = "SegmentOfResult",
        error_code: Option<String> = "ErrorCode",
        error_message: Option<String> = "ErrorMessage",
        character_code_identifier: Option<CharacterCodeIdentifier> = "CharacterCodeIdentifier",
        reception_number: Option<String> = "ReceptionNumber",
        reception_date_time: Option<String> = "ReceptionDateTime" => timestamp,
        number_of_processing_result: Option<String> = "NumberOfProcessingResult" => count,
        number_of_normal_processing: Option<String> = "NumberOfNormalProcessing" => count,
        number_of_error: Option<String> = "NumberOfError" => count,
        /// Medication / health-check requests name the insurance key differently.
        insurer_number: Option<String> = "InsurerNumber" => insurer,
        insurance_card_symbol: Option<String> = "InsuranceCardSymbol",
        insured_person_identification_number: Option<String> = "InsuredPersonIdentificationNumber",
        branch_number: Option<String> = "BranchNumber" => branch,
        birthdate: Option<String> = "Birthdate" => date,
        start_date: Option<String> = "StartDate" => year_month,
        end_date: Option<String> = "EndDate" => year_month,
        file_category: Option<FileCategory> = "FileCategory",
        medical_treatment_flag: Option<MedicalTreatmentFlag> = "MedicalTreatmentFlag",
        qualification_confirmation_key: Option<String> = "QualificationConfirmationKey",
    }

    /// `QualificationConfirmSearchInfo`: what the clinic searched with.
    pub struct SearchInfo {
        insurer_number: Option<String> = "InsurerNumber" => insurer,
        insured_card_symbol: Option<String> = "InsuredCardSymbol",
        insured_identification_number: Option<String> = "InsuredIdentificationNumber",
        insured_branch_number: Option<String> = "InsuredBranchNumber" => branch,
        birthdate: Option<String> = "Birthdate" => date,
        limit_consent: Option<ConsentFlag> = "LimitApplicationCertificateRelatedConsFlg",
        arbitrary_identifier: Option<String> = "ArbitraryIdentifier",
    }

    /// `ElderlyRecipientCertificateInfo` (高齢受給者証).
    pub struct ElderlyCertificate {
        certificate_date: Option<String> = "ElderlyRecipientCertificateDate" => date,
        valid_start_date: Option<String> = "ElderlyRecipientValidStartDate" => date,
        valid_end_date: Option<String> = "ElderlyRecipientValidEndDate" => date,
        contribution_ratio: Option<String> = "ElderlyRecipientContributionRatio" => ratio,
    }

    /// `LimitApplicationCertificateRelatedInfo` (限度額適用認定証).
    pub struct LimitCertificate {
        classification: Option<String> = "LimitApplicationCertificateClassification",
        classification_flag: Option<LimitClassificationFlag> = "LimitApplicationCertificateClassificationFlag",
        certificate_date: Option<String> = "LimitApplicationCertificateDate" => date,
        valid_start_date: Option<String> = "LimitApplicationCertificateValidStartDate" => date,
        valid_end_date: Option<String> = "LimitApplicationCertificateValidEndDate" => date,
        long_term_date: Option<String> = "LimitApplicationCertificateLongTermDate" => date,
    }

    /// `SpecificDiseasesCertificateInfo` (特定疾病療養受療証).
    pub struct SpecificDiseaseCertificate {
        category: Option<SpecificDiseaseCategory> = "SpecificDiseasesDiseaseCategory",
        certificate_date: Option<String> = "SpecificDiseasesCertificateDate" => date,
        valid_start_date: Option<String> = "SpecificDiseasesValidStartDate" => date,
        valid_end_date: Option<String> = "SpecificDiseasesValidEndDate" => date,
        self_pay: Option<String> = "SpecificDiseasesSelfPay",
    }

    /// `MedicalTicketInfo` (医療券等, public assistance). Element names of
    /// this block are the least certain; unknown ones are skipped.
    pub struct MedicalTicket {
        payer_number: Option<String> = "PublicExpensePayerNumber" => public,
        recipient_number: Option<String> = "PublicExpenseRecipientNumber",
        valid_start_date: Option<String> = "MedicalTicketValidStartDate" => date,
        valid_end_date: Option<String> = "MedicalTicketValidEndDate" => date,
        ticket_type: Option<String> = "MedicalTicketType",
        /// The issuing office (福祉事務所 for medical aid). The element name
        /// is not public; `PublicExpenseIssuerName` is our guess, read
        /// tolerantly (an unknown sibling is skipped, not refused).
        issuer_name: Option<String> = "PublicExpenseIssuerName",
    }

    /// `ResultOfQualificationConfirmation`: one qualification found.
    pub struct Qualification {
        card_classification: Option<InsuredCardClassification> = "InsuredCardClassification",
        insurer_number: Option<String> = "InsurerNumber" => insurer,
        insured_card_symbol: Option<String> = "InsuredCardSymbol",
        insured_identification_number: Option<String> = "InsuredIdentificationNumber",
        insured_branch_number: Option<String> = "InsuredBranchNumber" => branch,
        personal_family: Option<PersonalFamilyClassification> = "PersonalFamilyClassification",
        /// The household head (世帯主/被保険者), not necessarily the patient.
        insured_name: Option<String> = "InsuredName" => person_name,
        name: Option<String> = "Name" => person_name,
        name_of_other: Option<String> = "NameOfOther" => person_name,
        name_kana: Option<String> = "NameKana",
        name_of_other_kana: Option<String> = "NameOfOtherKana",
        sex1: Option<Sex> = "Sex1",
        sex2: Option<Sex> = "Sex2",
        birthdate: Option<String> = "Birthdate" => date,
        address: Option<String> = "Address",
        post_number: Option<String> = "PostNumber",
        qualification_date: Option<String> = "QualificationDate" => date,
        disqualification_date: Option<String> = "DisqualificationDate" => date,
        certificate_issuance_date: Option<String> = "InsuredCertificateIssuanceDate" => date,
        card_valid_date: Option<String> = "InsuredCardValidDate" => date,
        card_expiration_date: Option<String> = "InsuredCardExpirationDate" => date,
        contribution_ratio: Option<String> = "InsuredPartialContributionRatio" => ratio,
        preschool_classification: Option<String> = "PreschoolClassification",
        reason_of_loss: Option<ReasonOfLoss> = "ReasonOfLoss",
        insurer_name: Option<String> = "InsurerName",
        elderly: Option<ElderlyCertificate> = "ElderlyRecipientCertificateInfo",
        limit_consent: Option<ConsentFlag> = "LimitApplicationCertificateRelatedConsFlg",
        limit_consent_time: Option<String> = "LimitApplicationCertificateRelatedConsTime" => timestamp,
        limit: Option<LimitCertificate> = "LimitApplicationCertificateRelatedInfo",
        specific_disease_consent: Option<ConsentFlag> = "SpecificDiseasesCertificateRelatedConsFlg",
        specific_disease_consent_time: Option<String> = "SpecificDiseasesCertificateRelatedConsTime" => timestamp,
        specific_diseases: Vec<SpecificDiseaseCertificate> = "SpecificDiseasesCertificateList" / "SpecificDiseasesCertificateInfo",
        public_expense: Vec<MedicalTicket> = "PublicExpenseResultList" / "MedicalTicketInfo",
        checkup_consent: Option<ConsentFlag> = "SpecificHealthCheckupsInfoConsFlg",
        checkup_consent_time: Option<String> = "SpecificHealthCheckupsInfoConsTime" => timestamp,
        checkup_available_time: Option<String> = "SpecificHealthCheckupsInfoAvailableTime" => timestamp,
        pharmacists_consent: Option<ConsentFlag> = "PharmacistsInfoConsFlg",
        pharmacists_consent_time: Option<String> = "PharmacistsInfoConsTime" => timestamp,
        pharmacists_available_time: Option<String> = "PharmacistsInfoAvailableTime" => timestamp,
        diagnosis_consent: Option<ConsentFlag> = "DiagnosisInfoConsFlg",
        diagnosis_consent_time: Option<String> = "DiagnosisInfoConsTime" => timestamp,
        diagnosis_available_time: Option<String> = "DiagnosisInfoAvailableTime" => timestamp,
        operation_consent: Option<ConsentFlag> = "OperationInfoConsFlg",
        operation_consent_time: Option<String> = "OperationInfoConsTime" => timestamp,
        operation_available_time: Option<String> = "OperationInfoAvailableTime" => timestamp,
        reference_number: Option<String> = "ReferenceNumber",
        arbitrary_identifier: Option<String> = "ArbitraryIdentifier",
        qualification_confirmation_key: Option<String> = "QualificationConfirmationKey",
    }

    /// Body of an individual request (`OQSsiquc01req`).
    pub struct IndividualRequestBody {
        search: Option<SearchInfo> = "QualificationConfirmSearchInfo",
    }

    /// Body of an individual or card-reader result (`OQSsiquc01res`, `…res_face`).
    pub struct QualificationResultBody {
        processing_result_status: Option<ProcessingResultStatus> = "ProcessingResultStatus",
        processing_result_code: Option<String> = "ProcessingResultCode",
        processing_result_message: Option<String> = "ProcessingResultMessage",
        qualification_validity: Option<QualificationValidity> = "QualificationValidity",
        search: Option<SearchInfo> = "QualificationConfirmSearchInfo",
        prescription_issue_select: Option<String> = "PrescriptionIssueSelect",
        results: Vec<Qualification> = "ResultList" / "ResultOfQualificationConfirmation",
        qualification_confirmation_key: Option<String> = "QualificationConfirmationKey",
    }

    /// Body of a batch upload (`OQSmuquc01req`): one search per patient.
    pub struct BatchUploadBody {
        searches: Vec<SearchInfo> = "QualificationConfirmSearchInfo",
    }

    /// Body of a batch acknowledgement (`OQSmuquc01res`) or download request
    /// (`OQSmuquc02req`); the reception number may sit in the header instead.
    pub struct ReceptionBody {
        reception_number: Option<String> = "ReceptionNumber",
        reception_date_time: Option<String> = "ReceptionDateTime" => timestamp,
        processing_result_status: Option<ProcessingResultStatus> = "ProcessingResultStatus",
        processing_result_code: Option<String> = "ProcessingResultCode",
        processing_result_message: Option<String> = "ProcessingResultMessage",
    }

    /// `BulkConfirmUnit`: one patient's answer in a batch result.
    pub struct BatchUnit {
        search: Option<SearchInfo> = "QualificationConfirmSearchInfo",
        processing_result_status: Option<ProcessingResultStatus> = "ProcessingResultStatus",
        processing_result_code: Option<String> = "ProcessingResultCode",
        processing_result_message: Option<String> = "ProcessingResultMessage",
        qualification_validity: Option<QualificationValidity> = "QualificationValidity",
        results: Vec<Qualification> = "ResultOfQualificationConfirmation",
        /// Some files wrap the entries in a list, as individual results do.
        listed_results: Vec<Qualification> = "ResultList" / "ResultOfQualificationConfirmation",
        reference_number: Option<String> = "ReferenceNumber",
    }

    /// Body of a batch result (`OQSmuquc02res`).
    pub struct BatchResultBody {
        processing_result_status: Option<ProcessingResultStatus> = "ProcessingResultStatus",
        processing_result_code: Option<String> = "ProcessingResultCode",
        processing_result_message: Option<String> = "ProcessingResultMessage",
        units: Vec<BatchUnit> = "BulkConfirmUnit",
    }

    /// One 照会番号 registration (`OQSsiimm01` body, or one unit of the bulk form).
    pub struct Registration {
        search: Option<SearchInfo> = "QualificationConfirmSearchInfo",
        reference_number: Option<String> = "ReferenceNumber",
        qualification_confirmation_key: Option<String> = "QualificationConfirmationKey",
        processing_result_status: Option<ProcessingResultStatus> = "ProcessingResultStatus",
        processing_result_code: Option<String> = "ProcessingResultCode",
        processing_result_message: Option<String> = "ProcessingResultMessage",
    }

    /// Body of the bulk registration (`OQSmuimm01req`, and its results).
    pub struct BulkRegistrationBody {
        processing_result_status: Option<ProcessingResultStatus> = "ProcessingResultStatus",
        processing_result_code: Option<String> = "ProcessingResultCode",
        processing_result_message: Option<String> = "ProcessingResultMessage",
        units: Vec<Registration> = "ReferenceNumberRegistrationInfo",
    }

    /// Body of a medication / health-check request (the key is in the header).
    pub struct InfoRequestBody {
        arbitrary_identifier: Option<String> = "ArbitraryIdentifier",
        qualification_confirmation_key: Option<String> = "QualificationConfirmationKey",
    }

    /// One drug on one dispensing date.
    pub struct Drug {
        name: Option<String> = "DrugName",
        code: Option<String> = "DrugCode",
        quantity: Option<String> = "Quantity",
        unit: Option<String> = "Unit",
        usage: Option<String> = "Usage",
        days: Option<String> = "DosageDays",
        times: Option<String> = "DosageTimes",
    }

    /// One dispensing (or prescribing) date and its drugs.
    pub struct DispensingDay {
        date: Option<String> = "DispensingDate" => date,
        dispensing_institution: Option<String> = "DispensingInstitutionName",
        prescribing_institution: Option<String> = "PrescribingInstitutionName",
        drugs: Vec<Drug> = "DrugInfo",
    }

    /// One month of medication information.
    pub struct MedicationMonth {
        year_month: Option<String> = "DispensingYearMonth" => year_month,
        days: Vec<DispensingDay> = "DispensingDateInfo",
    }

    /// Body of a medication result (`YZKsiquc01res`, XML form).
    pub struct MedicationResultBody {
        result_code: Option<String> = "ResultCode",
        message_contents: Option<String> = "MessageContents",
        months: Vec<MedicationMonth> = "MedicationInfoList" / "MonthlyMedicationInfo",
        /// PDF form: the file, base64, kept as text.
        file_data: Option<String> = "FileData",
    }

    /// One health-check item.
    pub struct CheckupItem {
        code: Option<String> = "ItemCode",
        name: Option<String> = "ItemName",
        value: Option<String> = "ResultValue",
        unit: Option<String> = "Unit",
        judgement: Option<String> = "Judgement",
    }

    /// One health check.
    pub struct Checkup {
        date: Option<String> = "ImplementationDate" => date,
        institution: Option<String> = "ImplementingInstitutionName",
        items: Vec<CheckupItem> = "CheckupItemInfo",
    }

    /// Body of a health-check result (`TKKsiquc01res`).
    pub struct CheckupResultBody {
        result_code: Option<String> = "ResultCode",
        message_contents: Option<String> = "MessageContents",
        checkups: Vec<Checkup> = "SpecificHealthCheckupInfoList" / "SpecificHealthCheckupInfo",
        file_data: Option<String> = "FileData",
    }
}

// Records without cross-field rules.
impl Rules for MessageHeader {}
impl Rules for SearchInfo {}
impl Rules for MedicalTicket {}
impl Rules for IndividualRequestBody {}
impl Rules for BatchUploadBody {}
impl Rules for ReceptionBody {}
impl Rules for BatchResultBody {}
impl Rules for Registration {}
impl Rules for BulkRegistrationBody {}
impl Rules for InfoRequestBody {}
impl Rules for Drug {}
impl Rules for DispensingDay {}
impl Rules for MedicationMonth {}
impl Rules for MedicationResultBody {}
impl Rules for CheckupItem {}
impl Rules for Checkup {}
impl Rules for CheckupResultBody {}

impl BatchUnit {
    /// All entries of the unit, whether listed directly or in a `ResultList`.
    pub fn entries(&self) -> impl Iterator<Item = &Qualification> {
        self.results.iter().chain(self.listed_results.iter())
    }
}
